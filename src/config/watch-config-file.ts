import { createHash } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';

export interface ConfigFileWatcher {
  /** The file's current content was just loaded by other means (SIGHUP, API): don't reload it again. */
  markCurrent(): void;
  close(): void;
}

/**
 * Calls `onChange` when the config file's content changes. Watches the directory, not the
 * file, because editors and config management replace files by rename, which a file watch
 * loses. Bursts of events are debounced, and a change of timestamps alone (same bytes) is
 * ignored, so a reload happens once per real edit.
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
  let watcher: FSWatcher | undefined;
  const check = (): void => {
    const previous = last;
    last = digest();
    void Promise.all([previous, last]).then(([before, now]) => {
      if (now !== undefined && now !== before) onChange();
      if (now === undefined) last = previous;
    });
  };
  try {
    watcher = watch(directory, { persistent: false }, (_event, changed) => {
      if (changed !== null && changed !== name) return;
      clearTimeout(timer);
      timer = setTimeout(check, options.debounceMs ?? 300);
    });
    watcher.on('error', () => watcher?.close());
  } catch {
    // No watch support here (some network filesystems): SIGHUP and the admin API still reload.
  }
  return {
    markCurrent() {
      last = digest();
    },
    close() {
      clearTimeout(timer);
      watcher?.close();
    },
  };
};
