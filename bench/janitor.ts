/**
 * Everything the benchmark must undo: child processes and temp dirs. `cleanup()` stops the
 * processes (bounded) and removes the dirs; `installHandlers()` makes sure it also happens on
 * SIGINT/SIGTERM, an uncaught error, or a plain exit (synchronously, with SIGKILL).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

interface ProcessEntry {
  readonly name: string;
  readonly killNow: () => void;
  readonly stop: (graceMs?: number) => Promise<void>;
}

export class Janitor {
  private readonly processes = new Set<ProcessEntry>();
  private readonly dirs = new Set<string>();
  private cleaning: Promise<void> | undefined;

  /** Registers a process; the returned function forgets it (once it has exited by itself). */
  addProcess(name: string, killNow: () => void, stop: (graceMs?: number) => Promise<void>): () => void {
    const entry = { name, killNow, stop };
    this.processes.add(entry);
    return () => { this.processes.delete(entry); };
  }

  /** A fresh private temp dir, removed at cleanup. */
  tempDir(prefix: string): string {
    const dir = mkdtempSync(path.join(tmpdir(), `portcullis-bench-${prefix}-`));
    this.dirs.add(dir);
    return dir;
  }

  removeDir(dir: string): void {
    rmSync(dir, { recursive: true, force: true });
    this.dirs.delete(dir);
  }

  /** Stops every process (each bounded by graceMs) and removes every temp dir. Idempotent. */
  cleanup(graceMs = 3000): Promise<void> {
    this.cleaning ??= (async () => {
      const overall = new Promise<void>((resolve) => setTimeout(resolve, graceMs + 5000).unref());
      await Promise.race([
        Promise.allSettled([...this.processes].map((p) => p.stop(graceMs))),
        overall,
      ]);
      this.killAllNow();
      for (const dir of this.dirs) rmSync(dir, { recursive: true, force: true });
      this.dirs.clear();
    })();
    return this.cleaning;
  }

  /** Synchronous last resort: SIGKILL every process group and remove the dirs. */
  killAllNow(): void {
    for (const p of this.processes) p.killNow();
    for (const dir of this.dirs) {
      try { rmSync(dir, { recursive: true, force: true }); } catch { /* best effort */ }
    }
  }

  installHandlers(): void {
    let signalled = false;
    const onSignal = (signal: NodeJS.Signals): void => {
      if (signalled) return; // a second signal (e.g. from `timeout` and the shell) must not cut the cleanup short
      signalled = true;
      process.stderr.write(`\n[bench] ${signal}: cleaning up\n`);
      void this.cleanup(1000).finally(() => process.exit(130));
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    process.on('SIGHUP', onSignal);
    process.on('exit', () => this.killAllNow());
  }
}
