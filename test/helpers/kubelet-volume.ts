import { mkdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/**
 * What the kubelet's AtomicWriter does for a ConfigMap or Secret volume, on real files: each
 * key is a symlink `KEY -> ..data/KEY`, `..data` is a symlink to a timestamped directory, and
 * an update writes a new timestamped directory, points `..data_tmp` at it, renames `..data_tmp`
 * over `..data` (atomic) and removes the old directory. The key's own path is never touched.
 */
export const kubeletVolume = (dir: string, files: Record<string, string>): { update(files: Record<string, string>): void } => {
  let generation = 0;
  const writeGeneration = (content: Record<string, string>): string => {
    generation += 1;
    const name = `..2026_01_01_00_00_${String(generation).padStart(2, '0')}.00000000${generation}`;
    mkdirSync(path.join(dir, name), { recursive: true });
    for (const [key, text] of Object.entries(content)) writeFileSync(path.join(dir, name, key), text);
    return name;
  };
  let current = writeGeneration(files);
  symlinkSync(current, path.join(dir, '..data'));
  for (const key of Object.keys(files)) symlinkSync(path.join('..data', key), path.join(dir, key));
  return {
    update(content) {
      const previous = current;
      current = writeGeneration(content);
      symlinkSync(current, path.join(dir, '..data_tmp'));
      renameSync(path.join(dir, '..data_tmp'), path.join(dir, '..data'));
      rmSync(path.join(dir, previous), { recursive: true });
    },
  };
};
