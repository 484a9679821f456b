import { createHash } from 'node:crypto';
import { realpathSync, watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';

export interface ConfigFileWatcher {
  /** The file's current content was just loaded by other means (SIGHUP, API): don't reload it again. */
  markCurrent(): void;
  close(): void;
}

/**
 * Kubernetes mounts a ConfigMap as `policy.yaml -> ..data/policy.yaml` and updates it by
 * renaming a new `..data` symlink into place (the kubelet's AtomicWriter): the events name
 * `..data` / `..data_tmp`, never `policy.yaml`. Names starting with ".." are that machinery.
 */
const concernsFile = (changed: string | null, name: string): boolean =>
  changed === null || changed === name || changed.startsWith('..');

const realPath = (file: string): string | undefined => {
  try {
    return realpathSync(file);
  } catch {
    return undefined;
  }
};

/**
 * Calls `onChange` when the config file's content changes. Watches the directory, not the
 * file, because editors and config management replace files by rename, which a file watch
 * loses; when the path is a symlink (a Kubernetes ConfigMap volume, a link into a checkout)
 * the directory of the file it resolves to is watched too, and followed when the link moves.
 * Bursts of events are debounced, and a change of timestamps alone (same bytes) is ignored, so
 * a reload happens once per real edit.
 */
export const watchConfigFile = (file: string, onChange: () => void, options: { debounceMs?: number } = {}): ConfigFileWatcher => {
  const directory = path.dirname(file);
  const name = path.basename(file);
  const digest = async (): Promise<string | undefined> => {
    try {
      const bytes = await readFile(file);
      // An empty file is what a writer leaves between truncating and writing: never reload
      // that (it would be a valid config with no rules, denying everything).
      return bytes.length === 0 ? undefined : createHash('sha256').update(bytes).digest('hex');
    } catch {
      return undefined;
    }
  };
  let last: Promise<string | undefined> = digest();
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  let target: { dir: string; watcher: FSWatcher | undefined } | undefined;

  const watchDirectory = (dir: string, accept: (changed: string | null) => boolean): FSWatcher | undefined => {
    try {
      const watcher = watch(dir, { persistent: false }, (_event, changed) => {
        if (accept(changed)) schedule();
      });
      watcher.on('error', () => watcher.close());
      return watcher;
    } catch {
      // No watch support here (some network filesystems): SIGHUP and the admin API still reload.
      return undefined;
    }
  };
  /** (Re)watches the directory of the file the path resolves to, when that is another directory. */
  const followTarget = (): void => {
    const resolved = realPath(file);
    const dir = resolved === undefined ? undefined : path.dirname(resolved);
    if (dir === target?.dir) return;
    target?.watcher?.close();
    target = undefined;
    if (resolved === undefined || dir === undefined || dir === realPath(directory)) return;
    const targetName = path.basename(resolved);
    target = { dir, watcher: watchDirectory(dir, (changed) => changed === null || changed === targetName) };
  };
  const check = (): void => {
    followTarget();
    const previous = last;
    last = digest();
    void Promise.all([previous, last]).then(([before, now]) => {
      if (closed) return;
      if (now !== undefined && now !== before) onChange();
      if (now === undefined) last = previous;
    });
  };
  const schedule = (): void => {
    clearTimeout(timer);
    timer = setTimeout(check, options.debounceMs ?? 300);
  };

  const linkWatcher = watchDirectory(directory, (changed) => concernsFile(changed, name));
  followTarget();
  return {
    markCurrent() {
      last = digest();
    },
    close() {
      closed = true;
      clearTimeout(timer);
      linkWatcher?.close();
      target?.watcher?.close();
    },
  };
};
