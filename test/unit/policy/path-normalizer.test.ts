import { test } from 'node:test';
import assert from 'node:assert/strict';
import { normalizePath, pathMatchesPrefix, validateRulePath } from '../../../src/policy/path-normalizer.js';

const normalizes: ReadonlyArray<readonly [string, string, string]> = [
  ['keeps a plain path as it is', '/storage/v1/b/allowed-bkt/o', '/storage/v1/b/allowed-bkt/o'],
  ['keeps the root path', '/', '/'],
  ['keeps a single trailing slash', '/a/b/', '/a/b/'],
  ['drops the query', '/a/b?x=1&y=/../c', '/a/b'],
  ['drops a query that starts right after the root', '/?q', '/'],
  ['drops an empty query', '/a?', '/a'],
  ['decodes encoded unreserved letters', '/%61%62%63', '/abc'],
  ['decodes encoded unreserved characters in either hex case', '/%7e%7E%2D%5f%2e', '/~~-_.'],
  ['decodes encoded digits', '/v%31', '/v1'],
  ['keeps a reserved escape and uppercases its hex', '/a%3ab', '/a%3Ab'],
  ['keeps an encoded percent sign', '/a%25b', '/a%25b'],
  ['keeps an encoded space', '/a%20b', '/a%20b'],
  ['keeps an encoded question mark so it stays part of the path', '/a%3fb', '/a%3Fb'],
  ['keeps valid percent-encoded UTF-8 without decoding it', '/caf%c3%a9', '/caf%C3%A9'],
  ['keeps a valid four-byte UTF-8 sequence', '/%f0%9f%98%80', '/%F0%9F%98%80'],
  ['keeps literal sub-delimiters', "/a;b=c,d!$&'()*+", "/a;b=c,d!$&'()*+"],
  ['keeps a colon and an at sign', '/a:b@c', '/a:b@c'],
  ['keeps a dotted file name', '/a/.well-known/x.json', '/a/.well-known/x.json'],
  ['keeps a segment that only starts with two dots', '/a/..b', '/a/..b'],
  ['keeps a segment that only ends with two dots', '/a/b..', '/a/b..'],
  ['keeps an encoded slash as data', '/o/dir%2Ffile', '/o/dir%2Ffile'],
  ['keeps an encoded slash and uppercases its hex', '/o/dir%2ffile', '/o/dir%2Ffile'],
  ['keeps several encoded slashes', '/o/a%2Fb%2Fc.txt', '/o/a%2Fb%2Fc.txt'],
  ['keeps an object name that ends in an encoded slash (a folder placeholder)', '/o/dir%2F', '/o/dir%2F'],
  ['keeps an object name that is only an encoded slash', '/o/%2F', '/o/%2F'],
  ['keeps two encoded slashes in a row', '/o/a%2F%2Fb', '/o/a%2F%2Fb'],
  ['keeps a name with dots that is no dot-segment between encoded slashes', '/o/a%2F..b%2F.c', '/o/a%2F..b%2F.c'],
  ['keeps a double-encoded slash that hides no dot-segment', '/o/a%252Fb', '/o/a%252Fb'],
];

for (const [name, input, expected] of normalizes) {
  test(`normalizePath ${name}: ${JSON.stringify(input)} -> ${JSON.stringify(expected)}`, () => {
    assert.deepEqual(normalizePath(input), { ok: true, path: expected });
  });
}

const refuses: ReadonlyArray<readonly [string, string]> = [
  ['refuses a dot-dot segment', '/a/../b'],
  ['refuses a trailing dot-dot segment', '/a/..'],
  ['refuses a dot segment', '/a/./b'],
  ['refuses a trailing dot segment', '/a/.'],
  ['refuses an encoded dot-dot segment', '/a/%2e%2e/b'],
  ['refuses an uppercase encoded dot-dot segment', '/a/%2E%2E/b'],
  ['refuses a half-encoded dot-dot segment', '/a/.%2E/b'],
  ['refuses the other half-encoded dot-dot segment', '/a/%2e./b'],
  ['refuses an encoded dot segment', '/a/%2e/b'],
  ['refuses a dot-dot segment with a path parameter, as Tomcat reads it', '/a/..;/b'],
  ['refuses a dot-dot segment with a named path parameter', '/a/..;jsessionid=1/b'],
  ['refuses a dot-dot segment with an encoded semicolon', '/a/..%3b/b'],
  ['refuses a triple-dot segment, which Windows reads as a dot segment', '/a/.../b'],
  ['refuses a dot-dot segment padded with an encoded space', '/a/..%20/b'],
  ['refuses a dot-dot between encoded slashes', '/o/a%2F..%2Fb'],
  ['refuses a dot-dot before an encoded slash', '/o/..%2Fb'],
  ['refuses a dot-dot after an encoded slash', '/o/a%2F..'],
  ['refuses an encoded dot-dot between encoded slashes', '/o/a%2F%2e%2e%2Fb'],
  ['refuses a dot between encoded slashes', '/o/a%2F.%2Fb'],
  ['refuses a dot-dot with a parameter between encoded slashes', '/o/a%2F..;x%2Fb'],
  ['refuses a dot-dot after an encoded backslash', '/o/a%5C..'],
  ['refuses a double-encoded dot-dot segment', '/o/%252e%252e/b'],
  ['refuses a double-encoded slash around a dot-dot', '/o/a%252F..%252Fb'],
  ['refuses a triple-encoded dot-dot segment', '/o/%25252e%25252e'],
  ['refuses a quadruple-encoded dot-dot segment', '/o/%2525252e%2525252e'],
  ['refuses five levels of percent-encoding', '/o/%252525252F'],
  ['refuses an encoded backslash', '/a%5cb'],
  ['refuses an uppercase encoded backslash', '/a%5Cb'],
  ['refuses a literal backslash', '/a\\b'],
  ['refuses a backslash dot-dot traversal', '/a\\..\\b'],
  ['refuses a double slash', '/a//b'],
  ['refuses a leading double slash', '//a'],
  ['refuses a double slash at the end', '/a//'],
  ['refuses a bare double slash', '//'],
  ['refuses an encoded NUL', '/a%00b'],
  ['refuses an encoded newline', '/a%0ab'],
  ['refuses an encoded carriage return', '/a%0Db'],
  ['refuses an encoded tab', '/a%09'],
  ['refuses an encoded DEL', '/a%7f'],
  ['refuses a lone percent sign', '/a%'],
  ['refuses a percent sign with one hex digit', '/a%4'],
  ['refuses a percent sign followed by a non-hex digit', '/a%g1'],
  ['refuses a percent sign followed by a sign', '/a%+1'],
  ['refuses overlong UTF-8 for a dot (two bytes)', '/a/%c0%ae%c0%ae/b'],
  ['refuses overlong UTF-8 for a dot (three bytes)', '/a/%e0%80%ae/b'],
  ['refuses overlong UTF-8 for a slash', '/a%c0%afb'],
  ['refuses a lone continuation byte', '/a%80'],
  ['refuses a truncated two-byte sequence', '/a%c3'],
  ['refuses a two-byte sequence interrupted by a literal character', '/a%c3x%a9'],
  ['refuses a UTF-16 surrogate encoded as UTF-8', '/%ed%a0%80'],
  ['refuses a code point above U+10FFFF', '/%f4%90%80%80'],
  ['refuses a raw space', '/a b'],
  ['refuses a raw tab', '/a\tb'],
  ['refuses a raw NUL', '/a\u0000b'],
  ['refuses a raw non-ASCII character', '/caf\u00e9'],
  ['refuses a raw DEL', '/a\u007f'],
  ['refuses a fragment', '/a#b'],
  ['refuses an empty target', ''],
  ['refuses a target that is only a query', '?a'],
  ['refuses a relative path', 'a/b'],
  ['refuses the asterisk form', '*'],
  ['refuses an absolute URL', 'http://example.com/a'],
];

for (const [name, input] of refuses) {
  test(`normalizePath ${name}: ${JSON.stringify(input)}`, () => {
    const result = normalizePath(input);
    assert.equal(result.ok, false);
    assert.match((result as { error: string }).error, /^ambiguous path: /);
  });
}

test('normalizePath does not look at the query, whatever it holds', () => {
  assert.deepEqual(normalizePath('/a?%00/../\\//%zz \u00e9'), { ok: true, path: '/a' });
});

test('normalizePath is idempotent on every path it accepts in the table', () => {
  for (const [, input] of normalizes) {
    const first = normalizePath(input);
    assert.equal(first.ok, true);
    if (first.ok) assert.deepEqual(normalizePath(first.path), first);
  }
});

const prefixes: ReadonlyArray<readonly [string, string, string, boolean]> = [
  ['matches the prefix itself', '/storage/v1/b/allowed-bkt', '/storage/v1/b/allowed-bkt', true],
  ['matches the prefix followed by a slash', '/storage/v1/b/allowed-bkt/', '/storage/v1/b/allowed-bkt', true],
  ['matches a path below the prefix', '/storage/v1/b/allowed-bkt/o/file', '/storage/v1/b/allowed-bkt', true],
  ['does not match a sibling that shares the prefix text', '/storage/v1/b/allowed-bkt-evil', '/storage/v1/b/allowed-bkt', false],
  ['does not match a longer segment', '/storage/v1/b/allowed-bktx', '/storage/v1/b/allowed-bkt', false],
  ['does not match a sibling below a longer segment', '/storage/v1/b/allowed-bktx/o', '/storage/v1/b/allowed-bkt', false],
  ['does not match a segment with a path parameter', '/storage/v1/b/allowed-bkt;x', '/storage/v1/b/allowed-bkt', false],
  ['does not match a parent of the prefix', '/storage/v1/b', '/storage/v1/b/allowed-bkt', false],
  ['does not match a different case', '/Storage/v1/b/allowed-bkt', '/storage/v1/b/allowed-bkt', false],
  ['does not match an uppercased bucket', '/storage/v1/b/ALLOWED-BKT', '/storage/v1/b/allowed-bkt', false],
  ['matches below a prefix ending in a slash', '/a/b/c', '/a/b/', true],
  ['matches a prefix ending in a slash itself', '/a/b/', '/a/b/', true],
  ['does not match the directory without its slash when the prefix ends in one', '/a/b', '/a/b/', false],
  ['does not match a sibling of a prefix ending in a slash', '/a/bc', '/a/b/', false],
  ['matches everything with the root prefix', '/anything/at/all', '/', true],
  ['matches the root with the root prefix', '/', '/', true],
];

for (const [name, path, prefix, expected] of prefixes) {
  test(`pathMatchesPrefix ${name}: ${path} vs ${prefix}`, () => {
    assert.equal(pathMatchesPrefix(path, prefix), expected);
  });
}

const rulePaths: ReadonlyArray<readonly [string, string, boolean]> = [
  ['accepts a plain rule path', '/storage/v1/b/allowed-bkt', true],
  ['accepts a rule path with a trailing slash', '/storage/v1/b/', true],
  ['accepts the root rule path', '/', true],
  ['accepts a rule path with encoded unreserved characters', '/%61bc', true],
  ['rejects a rule path with a dot-dot segment', '/a/../b', false],
  ['rejects a rule path with a double slash', '/a//b', false],
  ['rejects a rule path with an encoded slash', '/a%2Fb', false],
  ['rejects a rule path with a lowercase encoded slash', '/storage/v1/b/bkt%2fo', false],
  ['rejects a rule path with a query', '/a?b=1', false],
  ['rejects a rule path that does not start with a slash', 'a/b', false],
];

for (const [name, path, valid] of rulePaths) {
  test(`validateRulePath ${name}: ${path}`, () => {
    const error = validateRulePath(path);
    if (valid) assert.equal(error, undefined);
    else assert.equal(typeof error, 'string');
  });
}
