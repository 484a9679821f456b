import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeListeners } from '../../../src/cli/listener-banner.js';

const cases: ReadonlyArray<readonly [string, Array<{ mode: 'explicit' | 'transparent-http' | 'transparent-tls' }>, string[], string]> = [
  ['an explicit listener is the URL clients point at', [{ mode: 'explicit' }], ['127.0.0.1:3128'], 'http://127.0.0.1:3128'],
  ['a transparent-tls listener is named as such, without http://', [{ mode: 'explicit' }, { mode: 'transparent-tls' }], ['127.0.0.1:3128', '127.0.0.1:3130'],
    'http://127.0.0.1:3128, 127.0.0.1:3130 (transparent-tls)'],
  ['a transparent-http listener is named as such', [{ mode: 'transparent-http' }], ['[::]:3129'], '[::]:3129 (transparent-http)'],
  ['all three, in the order of listen', [{ mode: 'transparent-tls' }, { mode: 'transparent-http' }, { mode: 'explicit' }], ['0.0.0.0:3130', '0.0.0.0:3129', '127.0.0.1:3128'],
    '0.0.0.0:3130 (transparent-tls), 0.0.0.0:3129 (transparent-http), http://127.0.0.1:3128'],
];

for (const [name, listen, bound, expected] of cases) {
  test(`describeListeners: ${name}`, () => {
    assert.equal(describeListeners(listen, bound), expected);
  });
}
