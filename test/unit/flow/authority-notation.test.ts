import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseAbsoluteTarget, parseAuthority } from '../../../src/flow/destination.js';
import { fill, NOTATIONS, type Notation, type Outcome } from '../../helpers/authority-notations.js';

/**
 * Every authority notation, as a CONNECT target and as the authority of an absolute-form URL:
 * accepted ones give exactly the host and port expected, the rest are refused, never read as
 * some other destination.
 */
const PORT = 8080;

const check = (row: Notation, form: 'connect' | 'absolute'): void => {
  const authority = fill(row.authority, PORT);
  const result = form === 'connect' ? parseAuthority(authority) : parseAbsoluteTarget(`http://${authority}/x`);
  const expected: Outcome = row[form];
  if (expected !== 'ok') {
    assert.equal(result.ok, false, `${JSON.stringify(authority)} parsed as ${JSON.stringify(result)}`);
    if (!result.ok) assert.equal(result.reason, expected, result.error);
    return;
  }
  assert.equal(result.ok, true, JSON.stringify(result));
  if (!result.ok) return;
  const destination = 'destination' in result.value ? result.value.destination : result.value;
  assert.equal(destination.host.host, fill(row.host ?? '', PORT));
  assert.equal(destination.port, row.port === 'PORT' ? PORT : row.port);
};

for (const row of NOTATIONS) {
  const verb = (outcome: Outcome): string => (outcome === 'ok' ? 'accepts' : `refuses (${outcome})`);
  test(`CONNECT ${verb(row.connect)} ${row.name}: ${JSON.stringify(row.authority)}`, () => check(row, 'connect'));
  test(`absolute-form ${verb(row.absolute)} ${row.name}: ${JSON.stringify(`http://${row.authority}/`)}`, () => check(row, 'absolute'));
}

test('a refused port says why, naming the range for an out-of-range one', () => {
  const messages = ['HOST:99999', 'HOST:0443', 'HOST:+443', 'HOST:4x'].map((a) => {
    const result = parseAuthority(fill(a, PORT));
    return result.ok ? '' : result.error;
  });
  assert.match(messages[0] ?? '', /out of range 1-65535/);
  assert.match(messages[1] ?? '', /cannot start with 0/);
  assert.match(messages[2] ?? '', /sign/);
  assert.match(messages[3] ?? '', /decimal digits only/);
});

test('a refused non-ASCII authority is escaped in the error, never echoed raw', () => {
  const result = parseAuthority('allowed\u00ad.test\u001b[31m:443');
  assert.equal(result.ok, false);
  if (!result.ok) {
    assert.match(result.error, /\\u00ad/);
    assert.doesNotMatch(result.error, /[^\x20-\x7e]/);
  }
});
