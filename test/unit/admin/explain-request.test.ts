import assert from 'node:assert/strict';
import { test } from 'node:test';
import { explainRequest } from '../../../src/admin/explain-request.js';
import { ProxyConfigSchema } from '../../../src/config/schema.js';
import { compilePolicy } from '../../../src/policy/policy-engine.js';

const policy = compilePolicy(ProxyConfigSchema.parse({
  rules: [
    { name: 'gcs', hosts: ['www.googleapis.com'], paths: ['/storage/v1/b/allowed-bkt'] },
    { name: 'aws', hosts: ['*.amazonaws.com'] },
    { name: 'apt', hosts: ['deb.debian.org'], methods: ['GET'] },
  ],
}).rules);

const explain = (method: string, url: string, extra: { client?: string; sni?: string } = {}) =>
  explainRequest(policy, false, { method, url, client: extra.client ?? '127.0.0.1', ...(extra.sni ? { sni: extra.sni } : {}) });

test('an intercepted https host is judged at the tunnel and then per request', () => {
  const result = explain('GET', 'https://www.googleapis.com/storage/v1/b/allowed-bkt/o');
  assert.ok(result.ok);
  assert.equal(result.verdict, 'allow');
  assert.deepEqual(result.stages.map((s) => [s.stage, s.decision.verdict]), [['tunnel', 'allow'], ['request', 'allow']]);
  assert.equal(result.spliced, false);
});

test('the denying stage decides, with its reason and closest rule', () => {
  const result = explain('GET', 'https://www.googleapis.com/storage/v1/b/other/o');
  assert.ok(result.ok);
  assert.deepEqual(result.decision, { verdict: 'deny', reason: 'path-not-allowed', rule: 'gcs', detail: 'path /storage/v1/b/other/o is not allowed for www.googleapis.com:443' });
});

test('a host allowed as a whole is spliced: no request stage', () => {
  const result = explain('DELETE', 'https://s3.eu-west-1.amazonaws.com/bucket/key');
  assert.ok(result.ok);
  assert.deepEqual([result.verdict, result.spliced, result.stages.length], ['allow', true, 1]);
});

test('plain http is one request stage', () => {
  const result = explain('POST', 'http://deb.debian.org/x');
  assert.ok(result.ok);
  assert.deepEqual(result.stages.map((s) => s.stage), ['request']);
  assert.equal(result.decision.verdict === 'deny' && result.decision.reason, 'method-not-allowed');
});

test('an SNI naming another host is refused at the tunnel', () => {
  const result = explain('GET', 'https://s3.amazonaws.com/', { sni: 'evil.test' });
  assert.ok(result.ok);
  assert.equal(result.decision.verdict === 'deny' && result.decision.reason, 'sni-mismatch');
});

test('bad input is an error, not a decision', () => {
  assert.deepEqual(explain('GET', 'ftp://x/'), { ok: false, error: 'invalid-destination: unsupported scheme "ftp"' });
  assert.equal(explain('G E T', 'http://x/').ok, false);
  assert.equal(explain('GET', 'http://x/', { client: 'not-an-ip' }).ok, false);
});
