import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import type { FlowRecord } from '../../../src/flow/flow-record.js';
import { createAccessLog, type AccessLog, type AccessLogDeps } from '../../../src/logging/access-log.js';

const makeRecord = (n: number): FlowRecord => ({
  id: `f-${n}`,
  kind: 'http',
  startedAt: 1_700_000_000_000 + n,
  durationMs: 1,
  client: { address: '127.0.0.1', port: 40000 },
  listener: '127.0.0.1:3128',
  method: 'GET',
  url: `http://example.com/${n}`,
  host: 'example.com',
  port: 80,
  verdict: 'allow',
  reason: 'rule-matched',
  rule: 'example',
  status: 200,
  bytesUp: 0,
  bytesDown: 10,
});

const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

const waitFor = async (what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
};

/** Flow numbers of the JSON lines in a file, in file order. */
const idsIn = async (file: string): Promise<number[]> => {
  const text = await fs.readFile(file, 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => Number((JSON.parse(line) as { flow_id: string }).flow_id.slice(2)));
};

const errorsOf = (errors: Error[]): string[] =>
  errors.map((err) => String((err.cause as NodeJS.ErrnoException | undefined)?.code ?? err.message));

interface Harness {
  readonly log: AccessLog;
  readonly errors: Error[];
}

interface Workspace {
  readonly dir: string;
  /** A JSON access log whose errors are collected; closed before the dir is removed. */
  openLog(file: string, deps?: Partial<AccessLogDeps>): Harness;
}

const workspace = async (t: TestContext): Promise<Workspace> => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'portcullis-log-'));
  const logs: AccessLog[] = [];
  t.after(async () => {
    await Promise.all(logs.map((log) => log.close()));
    await fs.rm(dir, { recursive: true, force: true });
  });
  const openLog = (file: string, deps: Partial<AccessLogDeps> = {}): Harness => {
    const errors: Error[] = [];
    const log = createAccessLog(
      { format: 'json', file },
      { stdout: new PassThrough(), onError: (err) => errors.push(err), watchIntervalMs: 10, ...deps },
    );
    logs.push(log);
    return { log, errors };
  };
  return { dir, openLog };
};

test('lines are appended to an existing file, one per flow', async (t) => {
  const { dir, openLog } = await workspace(t);
  const file = path.join(dir, 'access.log');
  await fs.writeFile(file, 'existing\n');
  const { log, errors } = openLog(file);
  for (const n of range(1, 3)) log.write(makeRecord(n));
  await log.flush();
  const text = await fs.readFile(file, 'utf8');
  assert.ok(text.startsWith('existing\n'));
  assert.equal(text.split('\n').length, 5); // existing, 3 lines, '' after the last newline
  assert.deepEqual(await idsIn(file), [1, 2, 3]);
  assert.deepEqual(errors, []);
});

test('a new file is created with mode 0640', async (t) => {
  const { dir, openLog } = await workspace(t);
  const file = path.join(dir, 'access.log');
  const { log } = openLog(file);
  log.write(makeRecord(1));
  await log.flush();
  const mode = (await fs.stat(file)).mode & 0o777;
  assert.equal(mode, 0o640 & ~process.umask());
});

test('flush resolves once the lines reached the file, without closing it', async (t) => {
  const { dir, openLog } = await workspace(t);
  const file = path.join(dir, 'access.log');
  const { log } = openLog(file);
  for (const n of range(1, 2000)) log.write(makeRecord(n));
  await log.flush();
  assert.deepEqual(await idsIn(file), range(1, 2000));
  log.write(makeRecord(2001));
  await log.flush();
  assert.deepEqual((await idsIn(file)).slice(-1), [2001]);
});

test('close flushes everything, and later writes are ignored without throwing', async (t) => {
  const { dir, openLog } = await workspace(t);
  const file = path.join(dir, 'access.log');
  const { log, errors } = openLog(file);
  for (const n of range(1, 10_000)) log.write(makeRecord(n));
  await log.close();
  assert.deepEqual(await idsIn(file), range(1, 10_000));
  log.write(makeRecord(10_001));
  await log.close();
  assert.equal((await idsIn(file)).length, 10_000);
  assert.deepEqual(errors, []);
});

test('a renamed file is noticed without a signal: a new file is created and nothing is lost or duplicated', async (t) => {
  const { dir, openLog } = await workspace(t);
  const file = path.join(dir, 'access.log');
  const rotated = path.join(dir, 'access.log.1');
  const { log, errors } = openLog(file);
  for (const n of range(1, 50)) log.write(makeRecord(n));
  await log.flush();
  await fs.rename(file, rotated);
  for (const n of range(51, 100)) log.write(makeRecord(n)); // before detection: still the old file
  await waitFor('the log to reopen its path', () => existsSync(file));
  for (const n of range(101, 150)) log.write(makeRecord(n));
  await log.close();
  const before = await idsIn(rotated);
  const after = await idsIn(file);
  assert.deepEqual([...before, ...after], range(1, 150));
  assert.ok(after.includes(150));
  assert.deepEqual(errors, []);
});

test('a deleted file is noticed and recreated', async (t) => {
  const { dir, openLog } = await workspace(t);
  const file = path.join(dir, 'access.log');
  const { log, errors } = openLog(file);
  log.write(makeRecord(1));
  await log.flush();
  await fs.unlink(file);
  await waitFor('the log to recreate its path', () => existsSync(file));
  log.write(makeRecord(2));
  await log.flush();
  assert.deepEqual(await idsIn(file), [2]);
  assert.deepEqual(errors, []);
});

test('reopen() after a rename sends later lines to the new file and the earlier ones to the old', async (t) => {
  const { dir, openLog } = await workspace(t);
  const file = path.join(dir, 'access.log');
  const rotated = path.join(dir, 'access.log.1');
  const { log, errors } = openLog(file, { watchIntervalMs: 60_000 }); // only the signal
  for (const n of range(1, 20)) log.write(makeRecord(n));
  await waitFor('the file to be opened', () => existsSync(file));
  await fs.rename(file, rotated);
  for (const n of range(21, 40)) log.write(makeRecord(n));
  await log.reopen();
  assert.ok(existsSync(file));
  for (const n of range(41, 60)) log.write(makeRecord(n));
  await log.close();
  assert.deepEqual(await idsIn(rotated), range(1, 40));
  assert.deepEqual(await idsIn(file), range(41, 60));
  assert.deepEqual(errors, []);
});

test('lines written while reopen() is in progress are neither lost nor duplicated', async (t) => {
  const { dir, openLog } = await workspace(t);
  const file = path.join(dir, 'access.log');
  const rotated = path.join(dir, 'access.log.1');
  const { log } = openLog(file, { watchIntervalMs: 60_000 });
  const reopens: Array<Promise<void>> = [];
  for (const n of range(1, 3000)) {
    log.write(makeRecord(n));
    if (n === 1000) {
      // Lines may still be queued for the old file: they must land there.
      await waitFor('the file to be opened', () => existsSync(file));
      await fs.rename(file, rotated);
      reopens.push(log.reopen());
    }
    if (n === 2000) reopens.push(log.reopen()); // same path again: a no-op rotation
  }
  await Promise.all(reopens);
  await log.close();
  const old = await idsIn(rotated);
  assert.deepEqual(old, range(1, 1000));
  assert.deepEqual(await idsIn(file), range(1001, 3000));
});

test('a missing directory is reported once via onError, never thrown, and writing resumes once it exists', async (t) => {
  const { dir: parent, openLog } = await workspace(t);
  const dir = path.join(parent, 'not-yet');
  const file = path.join(dir, 'access.log');
  const { log, errors } = openLog(file);
  await waitFor('the open error', () => errors.length > 0);
  let n = 0;
  const deadline = Date.now() + 150; // several retry intervals
  while (Date.now() < deadline) {
    log.write(makeRecord((n += 1)));
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  assert.deepEqual(errorsOf(errors), ['ENOENT']);
  assert.equal((errors[0] as NodeJS.ErrnoException).code, 'PCL_ERR_LOG_WRITE');

  await fs.mkdir(dir);
  await waitFor('writes to resume', async () => {
    log.write(makeRecord((n += 1)));
    await log.flush();
    return (await idsIn(file)).length > 0;
  });
  await log.close();
  assert.ok(errors.some((err) => /dropped \d+ line\(s\)/.test(err.message)), 'the lost lines are counted');
});

test('a path that is a directory is reported via onError', async (t) => {
  const { dir, openLog } = await workspace(t);
  const { log, errors } = openLog(dir);
  log.write(makeRecord(1));
  await waitFor('the open error', () => errors.length > 0);
  assert.deepEqual(errorsOf(errors), ['EISDIR']);
  await log.close();
});

test('a failing device (disk full) is reported once per error code while the log keeps trying', { skip: !existsSync('/dev/full') }, async (t) => {
  const { openLog } = await workspace(t);
  const { log, errors } = openLog('/dev/full');
  let n = 0;
  await waitFor('the write error', async () => {
    log.write(makeRecord((n += 1)));
    await log.flush();
    return errors.length > 0;
  });
  const deadline = Date.now() + 150; // several retries, each failing again
  while (Date.now() < deadline) {
    log.write(makeRecord((n += 1)));
    await log.flush();
  }
  assert.deepEqual(errorsOf(errors), ['ENOSPC']);
});

test('an onError that throws does not reach the caller', async (t) => {
  const { dir, openLog } = await workspace(t);
  let calls = 0;
  const onError = (): void => {
    calls += 1;
    throw new Error('reporter broke');
  };
  const { log } = openLog(path.join(dir, 'missing', 'access.log'), { onError });
  await waitFor('the error report', () => calls > 0);
  assert.doesNotThrow(() => log.write(makeRecord(1)));
});

test('"-" writes to stdout in the chosen format and close leaves stdout open', async (t) => {
  const stdout = new PassThrough();
  const chunks: string[] = [];
  stdout.on('data', (chunk: Buffer) => chunks.push(chunk.toString()));
  const log = createAccessLog({ format: 'squid', file: '-' }, { stdout, onError: (err) => assert.fail(err) });
  t.after(() => log.close());
  log.write(makeRecord(1));
  log.write(makeRecord(2));
  await log.close();
  await waitFor('the lines on stdout', () => chunks.join('').split('\n').length === 3);
  const lines = chunks.join('').split('\n');
  assert.equal(lines[0], '1700000000.002      1 127.0.0.1 TCP_MISS/200 10 GET http://example.com/1 - HIER_NONE/- -');
  assert.equal(lines[2], '');
  assert.equal(stdout.writableEnded, false);
});

test('a backed-up output drops lines beyond the bound and reports the count once it drains', async (t) => {
  const held: Array<() => void> = [];
  let blocked = true;
  const received: string[] = [];
  const stdout = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      received.push(chunk.toString());
      if (blocked) held.push(() => callback());
      else callback();
    },
  });
  const errors: Error[] = [];
  const log = createAccessLog(
    { format: 'json', file: '-' },
    { stdout, onError: (err) => errors.push(err), maxPendingBytes: 4096 },
  );
  t.after(() => log.close());

  for (const n of range(1, 1000)) log.write(makeRecord(n));
  assert.ok(stdout.writableLength <= 4096, `pending ${stdout.writableLength} bytes`);
  assert.equal(errors.length, 0);

  blocked = false;
  for (const release of held.splice(0)) release();
  await log.flush();
  // Lines written in one event-loop turn arrive as one chunk: count lines, not chunks.
  const accepted = received.join('').split('\n').filter((line) => line !== '').length;
  assert.ok(accepted > 0 && accepted < 1000);
  await waitFor('the drop report', () => errors.length > 0);
  assert.equal(errors.length, 1);
  assert.match(errors[0]!.message, new RegExp(`dropped ${1000 - accepted} line\\(s\\)`));
});

test('a stream that fails is reported once, and later writes neither throw nor report again', async (t) => {
  const stdout = new Writable({
    write(_chunk, _encoding, callback) {
      callback(Object.assign(new Error('broken pipe'), { code: 'EPIPE' }));
    },
  });
  const errors: Error[] = [];
  const log = createAccessLog({ format: 'console', file: '-' }, { stdout, onError: (err) => errors.push(err) });
  t.after(() => log.close());
  for (const n of range(1, 20)) log.write(makeRecord(n));
  await log.flush();
  assert.deepEqual(errorsOf(errors), ['EPIPE']);
});

test('a file gets its lines in batches: after the flush delay, or at once past 64 KiB, whole and in order', async (t) => {
  const { dir, openLog } = await workspace(t);
  const timed = path.join(dir, 'timed.log');
  const { log: timedLog } = openLog(timed, { flushDelayMs: 30 });
  for (const n of range(1, 3)) timedLog.write(makeRecord(n));
  // Nothing is issued before the delay: the lines wait in the batch.
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(await idsIn(timed), []);
  // Within the delay (and some slack for the write itself) they are there, without a flush().
  await waitFor('the timed batch', async () => (await idsIn(timed)).length === 3, 2000);
  assert.deepEqual(await idsIn(timed), [1, 2, 3]);

  // With a delay far beyond the test, only the size can write the batch: ~300 lines of ~230 bytes pass 64 KiB.
  const sized = path.join(dir, 'sized.log');
  const { log: sizedLog } = openLog(sized, { flushDelayMs: 600_000 });
  for (const n of range(1, 400)) sizedLog.write(makeRecord(n));
  await waitFor('the size-triggered batch', async () => (await idsIn(sized)).length > 0, 2000);
  const written = await idsIn(sized);
  assert.ok(written.length < 400, `the lines after the last 64 KiB still wait (wrote ${written.length})`);
  assert.deepEqual(written, range(1, written.length));
  // close() writes what is left.
  await sizedLog.close();
  assert.deepEqual(await idsIn(sized), range(1, 400));
});
