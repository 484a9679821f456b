import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { embeddedAsset, ORIGINAL_DST_ASSET } from './embedded-assets.js';

/**
 * A native addon can only be loaded from a file. In the single executable, the SO_ORIGINAL_DST
 * addon is an embedded asset: it is written to a fresh private directory (mode 0700, so no
 * other user can swap the file before it is loaded), loaded by `load`, then removed (Linux
 * keeps a loaded library mapped after its file is gone).
 */
export const withEmbeddedAddon = <T>(load: (file: string) => T): { ok: true; value: T } | { ok: false; problem: string } => {
  const bytes = embeddedAsset(ORIGINAL_DST_ASSET);
  if (bytes === undefined) {
    return { ok: false, problem: 'this single executable was built without the SO_ORIGINAL_DST addon (it was not built on the build machine: see native/original-dst/build.mjs)' };
  }
  let dir: string | undefined;
  try {
    dir = mkdtempSync(path.join(tmpdir(), 'portcullis-addon-'));
    const file = path.join(dir, 'original_dst.node');
    writeFileSync(file, bytes, { mode: 0o500 });
    return { ok: true, value: load(file) };
  } catch (error) {
    return { ok: false, problem: `the embedded SO_ORIGINAL_DST addon could not be loaded from ${dir ?? tmpdir()} (a noexec temporary directory? set TMPDIR): ${(error as Error).message}` };
  } finally {
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  }
};
