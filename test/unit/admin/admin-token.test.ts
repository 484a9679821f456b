import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { resolveAdminToken } from '../../../src/admin/admin-token.js';

const stateDir = (t: TestContext): string => {
  const dir = mkdtempSync(path.join(tmpdir(), 'pcl-token-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return path.join(dir, 'state');
};

test('a configured token is used as is, and nothing is written', async (t) => {
  const dir = stateDir(t);
  assert.deepEqual(await resolveAdminToken({ configured: 'from-config-0123456789', stateDir: dir, required: true }), { token: 'from-config-0123456789', source: 'config' });
  assert.throws(() => statSync(dir));
});

test('on loopback no token is needed or made', async (t) => {
  assert.deepEqual(await resolveAdminToken({ stateDir: stateDir(t), required: false }), { source: 'none' });
});

test('off loopback a token is generated once into state_dir (0600) and reused after', async (t) => {
  const dir = stateDir(t);
  const first = await resolveAdminToken({ stateDir: dir, required: true });
  assert.equal(first.source, 'generated');
  assert.ok((first.token ?? '').length >= 32);
  const file = path.join(dir, 'admin-token');
  assert.equal(first.file, file);
  assert.equal(readFileSync(file, 'utf8').trim(), first.token);
  assert.equal(statSync(file).mode & 0o777, 0o600);
  const second = await resolveAdminToken({ stateDir: dir, required: true });
  assert.deepEqual(second, { token: first.token, source: 'file', file });
});

test('a token file that is too short is refused with what to do', async (t) => {
  const dir = stateDir(t);
  await resolveAdminToken({ stateDir: dir, required: true });
  writeFileSync(path.join(dir, 'admin-token'), 'short\n');
  await assert.rejects(resolveAdminToken({ stateDir: dir, required: true }), /at least 16 characters; delete the file/);
});
