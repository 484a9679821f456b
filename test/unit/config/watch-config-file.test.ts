import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { watchConfigFile } from '../../../src/config/watch-config-file.js';

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

/**
 * What the kubelet's AtomicWriter does for a ConfigMap volume: the file the pod reads is a
 * symlink `policy.yaml -> ..data/policy.yaml`, `..data` is a symlink to a timestamped directory,
 * and an update writes a new timestamped directory, points `..data_tmp` at it, renames
 * `..data_tmp` over `..data` (atomic) and removes the old directory. `policy.yaml` itself is
 * never touched.
 */
const kubeletVolume = (dir: string, content: string): { update(content: string): void } => {
  let generation = 0;
  const writeGeneration = (text: string): string => {
    generation += 1;
    const name = `..2026_01_01_00_00_0${generation}.000000${generation}`;
    mkdirSync(path.join(dir, name));
    writeFileSync(path.join(dir, name, 'policy.yaml'), text);
    return name;
  };
  let current = writeGeneration(content);
  symlinkSync(current, path.join(dir, '..data'));
  symlinkSync(path.join('..data', 'policy.yaml'), path.join(dir, 'policy.yaml'));
  return {
    update(text) {
      const previous = current;
      current = writeGeneration(text);
      symlinkSync(current, path.join(dir, '..data_tmp'));
      renameSync(path.join(dir, '..data_tmp'), path.join(dir, '..data'));
      rmSync(path.join(dir, previous), { recursive: true });
    },
  };
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
  const volume = kubeletVolume(dir, 'rules: []\n');
  const file = path.join(dir, 'policy.yaml');
  let changes = 0;
  const watcher = watchConfigFile(file, () => { changes += 1; }, { debounceMs: 50 });
  t.after(() => watcher.close());
  await new Promise((resolve) => setTimeout(resolve, 50));
  volume.update('rules: [{ name: v2, hosts: [v2.example] }]\n');
  await waitUntil(() => changes === 1, 'the first ConfigMap swap');
  assert.match(readFileSync(file, 'utf8'), /v2\.example/);
  volume.update('rules: [{ name: v3, hosts: [v3.example] }]\n');
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
