import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { watchConfigFile } from '../../../src/config/watch-config-file.js';
import { kubeletVolume } from '../../helpers/kubelet-volume.js';

// Real files and real fs.watch; each wait is bounded in count and time.

const tempDir = (t: TestContext): string => {
  const dir = mkdtempSync(path.join(tmpdir(), 'pcl-watch-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
};

const waitUntil = async (done: () => boolean, what: string): Promise<void> => {
  for (let i = 0; i < 200; i += 1) {
    if (done()) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`gave up waiting for ${what}`);
};

test('a change written in place is seen once', async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'policy.yaml');
  writeFileSync(file, 'rules: []\n');
  let changes = 0;
  const watcher = watchConfigFile(file, () => { changes += 1; }, { debounceMs: 50 });
  t.after(() => watcher.close());
  await new Promise((resolve) => setTimeout(resolve, 50));
  writeFileSync(file, 'rules: [{ name: a, hosts: [a.example] }]\n');
  await waitUntil(() => changes === 1, 'the in-place change');
});

test('a Kubernetes ConfigMap update (the ..data symlink swap) is seen, and the new content is what the path reads', async (t) => {
  const dir = tempDir(t);
  const volume = kubeletVolume(dir, { 'policy.yaml': 'rules: []\n' });
  const file = path.join(dir, 'policy.yaml');
  let changes = 0;
  const watcher = watchConfigFile(file, () => { changes += 1; }, { debounceMs: 50 });
  t.after(() => watcher.close());
  await new Promise((resolve) => setTimeout(resolve, 50));
  volume.update({ 'policy.yaml': 'rules: [{ name: v2, hosts: [v2.example] }]\n' });
  await waitUntil(() => changes === 1, 'the first ConfigMap swap');
  assert.match(readFileSync(file, 'utf8'), /v2\.example/);
  volume.update({ 'policy.yaml': 'rules: [{ name: v3, hosts: [v3.example] }]\n' });
  await waitUntil(() => changes === 2, 'the second ConfigMap swap');
});

test('a config path that is a symlink to a file in another directory is watched where the content lives', async (t) => {
  const dir = tempDir(t);
  mkdirSync(path.join(dir, 'real'));
  mkdirSync(path.join(dir, 'etc'));
  const target = path.join(dir, 'real', 'policy.yaml');
  writeFileSync(target, 'rules: []\n');
  const file = path.join(dir, 'etc', 'policy.yaml');
  symlinkSync(target, file);
  let changes = 0;
  const watcher = watchConfigFile(file, () => { changes += 1; }, { debounceMs: 50 });
  t.after(() => watcher.close());
  await new Promise((resolve) => setTimeout(resolve, 50));
  writeFileSync(target, 'rules: [{ name: b, hosts: [b.example] }]\n');
  await waitUntil(() => changes === 1, 'the change behind the symlink');
});
