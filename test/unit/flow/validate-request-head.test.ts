import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateRequestHead, type HeadRefusalReason } from '../../../src/flow/validate-request-head.js';

type Fields = ReadonlyArray<readonly [string, string]>;
const flat = (fields: Fields): string[] => fields.flatMap(([name, value]) => [name, value]);

const H2_GET: Fields = [[':method', 'GET'], [':scheme', 'https'], [':authority', 'api.example.test'], [':path', '/storage/v1/b/bkt/o']];
const h2 = (...extra: Fields): Fields => [...H2_GET, ...extra];
const H1: Fields = [['Host', 'api.example.test']];
const h1 = (...extra: Fields): Fields => [...H1, ...extra];

const accepted: ReadonlyArray<readonly [string, string, Fields]> = [
  ['an HTTP/1.1 request with Host', '1.1', h1(['Accept', '*/*'])],
  ['an HTTP/1.0 request without Host', '1.0', [['Accept', '*/*']]],
  ['an HTTP/1.1 request with a Content-Length', '1.1', h1(['Content-Length', '12'])],
  ['an HTTP/1.1 request with chunked Transfer-Encoding', '1.1', h1(['Transfer-Encoding', 'chunked'])],
  ['chunked written in another case', '1.1', h1(['transfer-encoding', 'Chunked'])],
  ['a value with inner spaces and tabs', '1.1', h1(['User-Agent', 'curl/8.5 (x86_64)\tlinux'])],
  ['a value with obs-text bytes', '1.1', h1(['X-Name', 'caf\u00e9'])],
  ['an empty value', '1.1', h1(['X-Empty', ''])],
  ['an HTTP/2 request', '2.0', h2(['accept', '*/*'])],
  ['an HTTP/2 request whose Host repeats :authority', '2.0', h2(['host', 'api.example.test'])],
  ['an HTTP/2 Host that differs only in case', '2.0', h2(['host', 'API.Example.TEST'])],
  ['an HTTP/2 Host that adds the scheme\'s default port', '2.0', h2(['host', 'api.example.test:443'])],
  ['an HTTP/2 request with Host and no :authority', '2.0', [[':method', 'GET'], [':scheme', 'https'], [':path', '/'], ['host', 'a.test']]],
  ['HTTP/2 TE: trailers', '2.0', h2(['te', 'trailers'])],
  ['an HTTP/2 content-length', '2.0', h2(['content-length', '5'])],
  ['HTTP/2 OPTIONS *', '2.0', [[':method', 'OPTIONS'], [':scheme', 'https'], [':authority', 'a.test'], [':path', '*']]],
  ['an HTTP/2 CONNECT', '2.0', [[':method', 'CONNECT'], [':authority', 'a.test:443']]],
  ['an HTTP/2 extended CONNECT (WebSocket)', '2.0', [[':method', 'CONNECT'], [':protocol', 'websocket'], [':scheme', 'https'], [':authority', 'a.test'], [':path', '/ws']]],
  ['two cookie fields in HTTP/2', '2.0', h2(['cookie', 'a=1'], ['cookie', 'b=2'])],
];

for (const [name, httpVersion, fields] of accepted) {
  test(`validateRequestHead accepts ${name}`, () => {
    assert.deepEqual(validateRequestHead({ httpVersion, rawHeaders: flat(fields) }), { ok: true });
  });
}

const refused: ReadonlyArray<readonly [string, string, Fields, RegExp, HeadRefusalReason?]> = [
  // Names.
  ['a CR in a name', '1.1', h1(['X-A\r', 'b']), /invalid header name/],
  ['an LF in a name', '1.1', h1(['X\nInjected', 'b']), /invalid header name/],
  ['a NUL in a name', '1.1', h1(['X\u0000A', 'b']), /invalid header name/],
  ['a space in a name', '1.1', h1(['X A', 'b']), /invalid header name/],
  ['a colon in a name', '1.1', h1(['X:A', 'b']), /invalid header name/],
  ['an empty name', '1.1', h1(['', 'b']), /invalid header name/],
  ['a pseudo-header in HTTP/1.1', '1.1', h1([':authority', 'evil.test']), /invalid header name/],
  ['a colon in an HTTP/2 regular name', '2.0', h2(['x:a', 'b']), /invalid header name/],
  ['an uppercase HTTP/2 name', '2.0', h2(['X-A', 'b']), /uppercase/],
  ['a space in an HTTP/2 name', '2.0', h2(['x a', 'b']), /invalid header name/],
  ['a lone colon as an HTTP/2 name', '2.0', h2([':', 'b']), /invalid header name/],
  // Values.
  ['a CR in a value', '1.1', h1(['X-A', 'b\rc']), /control character/],
  ['an LF in a value', '1.1', h1(['X-A', 'b\nGET /evil HTTP/1.1']), /control character/],
  ['a CRLF in a value', '1.1', h1(['X-A', 'b\r\nX-Injected: 1']), /control character/],
  ['a NUL in a value', '1.1', h1(['X-A', 'b\u0000c']), /control character/],
  ['a vertical tab in a value', '1.1', h1(['X-A', 'b\u000bc']), /control character/],
  ['a DEL in a value', '1.1', h1(['X-A', 'b\u007f']), /control character/],
  ['a CR in an HTTP/2 value', '2.0', h2(['x-a', 'b\rc']), /control character/],
  ['an LF in an HTTP/2 pseudo-header value', '2.0', [[':method', 'GET'], [':scheme', 'https'], [':authority', 'a.test\nhost: evil.test'], [':path', '/']], /control character/],
  ['a CRLF in :path', '2.0', [[':method', 'GET'], [':scheme', 'https'], [':authority', 'a.test'], [':path', '/ HTTP/1.1\r\nHost: evil.test\r\n\r\nGET /']], /control character/],
  ['a leading space in a value', '2.0', h2(['x-a', ' b']), /leading or trailing whitespace/],
  ['a trailing space in a value', '2.0', h2(['x-a', 'b ']), /leading or trailing whitespace/],
  ['a trailing tab in a value', '2.0', h2(['x-a', 'b\t']), /leading or trailing whitespace/],
  ['a leading space in an HTTP/1.1 value that reached the validator', '1.1', h1(['X-A', ' b']), /leading or trailing whitespace/],
  ['a value that is only a space', '1.1', h1(['X-A', ' ']), /leading or trailing whitespace/],
  // Pseudo-headers.
  ['a pseudo-header after a regular one', '2.0', [[':method', 'GET'], [':scheme', 'https'], ['x-a', 'b'], [':authority', 'a.test'], [':path', '/']], /after a regular header/],
  [':authority after a regular one', '2.0', [...h2(['accept', '*/*']), [':authority', 'evil.test']], /after a regular header/],
  ['a repeated :path', '2.0', [...H2_GET, [':path', '/other']], /repeated/],
  ['a repeated :authority', '2.0', [[':method', 'GET'], [':scheme', 'https'], [':authority', 'a.test'], [':authority', 'evil.test'], [':path', '/']], /repeated/],
  ['a repeated :method', '2.0', [[':method', 'GET'], [':method', 'DELETE'], [':scheme', 'https'], [':authority', 'a.test'], [':path', '/']], /repeated/],
  ['an unknown pseudo-header', '2.0', [...H2_GET, [':host', 'evil.test']], /not a request pseudo-header/],
  ['a response pseudo-header in a request', '2.0', [...H2_GET, [':status', '200']], /not a request pseudo-header/],
  ['no :method', '2.0', [[':scheme', 'https'], [':authority', 'a.test'], [':path', '/']], /without :method/],
  ['no :path', '2.0', [[':method', 'GET'], [':scheme', 'https'], [':authority', 'a.test']], /without :scheme or :path/],
  ['no :scheme', '2.0', [[':method', 'GET'], [':authority', 'a.test'], [':path', '/']], /without :scheme or :path/],
  ['an empty :path', '2.0', [[':method', 'GET'], [':scheme', 'https'], [':authority', 'a.test'], [':path', '']], /invalid :path/],
  ['a :path that is not origin-form', '2.0', [[':method', 'GET'], [':scheme', 'https'], [':authority', 'a.test'], [':path', 'http://evil.test/']], /invalid :path/],
  ['* as :path for GET', '2.0', [[':method', 'GET'], [':scheme', 'https'], [':authority', 'a.test'], [':path', '*']], /invalid :path/],
  ['a space in :path', '2.0', [[':method', 'GET'], [':scheme', 'https'], [':authority', 'a.test'], [':path', '/a b']], /whitespace in :path/],
  ['a :scheme other than http or https', '2.0', [[':method', 'GET'], [':scheme', 'ftp'], [':authority', 'a.test'], [':path', '/']], /unsupported :scheme/],
  ['a :method that is not a token', '2.0', [[':method', 'GE T'], [':scheme', 'https'], [':authority', 'a.test'], [':path', '/']], /invalid :method/],
  ['a CONNECT with :path', '2.0', [[':method', 'CONNECT'], [':authority', 'a.test:443'], [':path', '/']], /CONNECT with :scheme or :path/],
  ['a CONNECT without :authority', '2.0', [[':method', 'CONNECT']], /CONNECT without :authority/],
  [':protocol on a GET', '2.0', [...H2_GET.slice(0, 1), [':protocol', 'websocket'], ...H2_GET.slice(1)], /:protocol outside/],
  ['an empty :authority', '2.0', [[':method', 'GET'], [':scheme', 'https'], [':authority', ''], [':path', '/']], /empty :authority/],
  ['userinfo in :authority', '2.0', [[':method', 'GET'], [':scheme', 'https'], [':authority', 'user@a.test'], [':path', '/']], /credentials/],
  // Host and :authority.
  ['a Host that names another host than :authority', '2.0', h2(['host', 'evil.test']), /disagrees with :authority/, 'host-mismatch'],
  ['a Host with another port than :authority', '2.0', h2(['host', 'api.example.test:8443']), /disagrees/, 'host-mismatch'],
  ['two Host fields in HTTP/2', '2.0', h2(['host', 'api.example.test'], ['host', 'evil.test']), /2 Host fields/, 'host-mismatch'],
  ['two Host fields in HTTP/1.1', '1.1', [['Host', 'a.test'], ['Host', 'evil.test']], /2 Host fields/, 'host-mismatch'],
  ['two identical Host fields', '1.1', [['Host', 'a.test'], ['host', 'a.test']], /2 Host fields/, 'host-mismatch'],
  ['an HTTP/1.1 request without Host', '1.1', [['Accept', '*/*']], /without Host/, 'host-mismatch'],
  // Framing.
  ['two Content-Length fields that disagree', '1.1', h1(['Content-Length', '5'], ['Content-Length', '6']), /2 Content-Length fields/],
  ['two identical Content-Length fields', '1.1', h1(['Content-Length', '5'], ['content-length', '5']), /2 Content-Length fields/],
  ['a Content-Length list', '1.1', h1(['Content-Length', '5, 6']), /not a single decimal number/],
  ['a Content-Length list of equal values', '1.1', h1(['Content-Length', '5,5']), /not a single decimal number/],
  ['a signed Content-Length', '1.1', h1(['Content-Length', '+5']), /not a single decimal number/],
  ['a negative Content-Length', '2.0', h2(['content-length', '-1']), /not a single decimal number/],
  ['a hex Content-Length', '1.1', h1(['Content-Length', '0x10']), /not a single decimal number/],
  ['an empty Content-Length', '1.1', h1(['Content-Length', '']), /not a single decimal number/],
  ['a Content-Length too large to count exactly', '1.1', h1(['Content-Length', '99999999999999999999']), /not a single decimal number/],
  ['two HTTP/2 content-length fields', '2.0', h2(['content-length', '1'], ['content-length', '2']), /2 Content-Length fields/],
  ['Transfer-Encoding in HTTP/2', '2.0', h2(['transfer-encoding', 'chunked']), /connection-specific/],
  ['Connection in HTTP/2', '2.0', h2(['connection', 'keep-alive']), /connection-specific/],
  ['Keep-Alive in HTTP/2', '2.0', h2(['keep-alive', 'timeout=5']), /connection-specific/],
  ['Proxy-Connection in HTTP/2', '2.0', h2(['proxy-connection', 'keep-alive']), /connection-specific/],
  ['Upgrade in HTTP/2', '2.0', h2(['upgrade', 'h2c']), /connection-specific/],
  ['HTTP2-Settings in HTTP/2', '2.0', h2(['http2-settings', 'AAMAAABkAAQAoAAAAAIAAAAA']), /connection-specific/],
  ['TE: gzip in HTTP/2', '2.0', h2(['te', 'gzip']), /only "trailers"/],
  ['Transfer-Encoding in HTTP/1.0', '1.0', [['Transfer-Encoding', 'chunked']], /HTTP\/1.0 request/],
  ['both Transfer-Encoding and Content-Length', '1.1', h1(['Transfer-Encoding', 'chunked'], ['Content-Length', '5']), /both Transfer-Encoding and Content-Length/],
  ['two Transfer-Encoding fields', '1.1', h1(['Transfer-Encoding', 'chunked'], ['Transfer-Encoding', 'chunked']), /2 Transfer-Encoding fields/],
  ['Transfer-Encoding gzip, chunked', '1.1', h1(['Transfer-Encoding', 'gzip, chunked']), /only "chunked"/],
  ['Transfer-Encoding chunked, chunked', '1.1', h1(['Transfer-Encoding', 'chunked, chunked']), /only "chunked"/],
  ['Transfer-Encoding identity', '1.1', h1(['Transfer-Encoding', 'identity']), /only "chunked"/],
  ['Transfer-Encoding xchunked', '1.1', h1(['Transfer-Encoding', 'xchunked']), /only "chunked"/],
  ['a header list of odd length', '1.1', ['Host'] as unknown as Fields, /odd length/],
];

for (const [name, httpVersion, fields, detail, reason = 'malformed-request'] of refused) {
  test(`validateRequestHead refuses ${name}`, () => {
    const rawHeaders = Array.isArray(fields[0]) ? flat(fields) : (fields as unknown as string[]);
    const result = validateRequestHead({ httpVersion, rawHeaders });
    assert.equal(result.ok, false, JSON.stringify(rawHeaders));
    if (!result.ok) {
      assert.equal(result.reason, reason);
      assert.match(result.detail, detail);
      assert.doesNotMatch(result.detail, /[\r\n\u0000]/, 'the detail must be safe to log');
    }
  });
}
