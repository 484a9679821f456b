import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import type { FuzzTarget } from '../helpers/fuzz-targets.js';

/**
 * Fuzzing of the pure parsers that read what clients send: the ClientHello parser (and its
 * incremental reader), parseAuthority / parseAbsoluteTarget, validateRequestHead and the path
 * normalizer, the DNS listener's message reader and SVCB stripper. Fixed seeds, so a run is repeatable; bounded runs, longer with
 * PCL_FUZZ_RUNS=100000 (and another seed with PCL_FUZZ_SEED=n). Each target runs in a worker
 * thread under a watchdog: a crash fails with fast-check's counterexample, a hang fails when
 * the watchdog ends the worker.
 */
const RUNS = Number(process.env.PCL_FUZZ_RUNS ?? 1000);
const SEED = Number(process.env.PCL_FUZZ_SEED ?? 20261203);
/** Generous: a normal run takes a few seconds; only a parser that stops returning comes near it. */
const WATCHDOG_MS = Math.max(60_000, RUNS * 60);

const TARGETS: ReadonlyArray<readonly [FuzzTarget, string]> = [
  ['client-hello', 'the ClientHello parser and its incremental reader'],
  ['authority', 'parseAuthority and parseAbsoluteTarget'],
  ['request-head', 'validateRequestHead'],
  ['path', 'the path normalizer'],
  ['dns', 'the DNS query reader, the reply encoder and the SVCB stripper'],
];

const runInWorker = (target: FuzzTarget, seed: number): Promise<{ ok: boolean; error?: string }> =>
  new Promise((resolve) => {
    // The worker registers tsx itself (Node 20 does not pass --import hooks to a worker's entry).
    const entry = new URL('../helpers/fuzz-targets.ts', import.meta.url).href;
    const worker = new Worker(`import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(entry)}); })`, {
      eval: true,
      workerData: { target, runs: RUNS, seed },
    });
    const watchdog = setTimeout(() => {
      void worker.terminate();
      resolve({ ok: false, error: `no answer within ${WATCHDOG_MS} ms: a parser hangs (seed ${seed}, ${RUNS} runs)` });
    }, WATCHDOG_MS);
    worker.once('message', (message: { ok: boolean; error?: string }) => {
      clearTimeout(watchdog);
      void worker.terminate();
      resolve(message);
    });
    worker.once('error', (error) => {
      clearTimeout(watchdog);
      resolve({ ok: false, error: String(error.stack ?? error) });
    });
  });

for (const [target, name] of TARGETS) {
  test(`fuzz: ${name} never throws, never hangs, and keeps its invariants (${RUNS} runs, seed ${SEED})`, { timeout: WATCHDOG_MS + 30_000 }, async () => {
    const result = await runInWorker(target, SEED);
    assert.ok(result.ok, result.error);
  });
}
