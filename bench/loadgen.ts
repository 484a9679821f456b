/**
 * The Node load generator for what wrk cannot do (CONNECT). Run as a separate process:
 *   node --import tsx bench/loadgen.ts '<json LoadOptions>'
 * mode run:  N connections, each a loop of keep-alive GETs (or one GET per new connection) for
 *            a fixed time; prints `LOADGEN_RESULT {json}`.
 * mode hold: opens N idle CONNECT tunnels, prints `HOLD_READY {json}`, keeps them until SIGTERM,
 *            stdin closing, or holdSeconds.
 * mode first-contact: for each name in `hosts`, one at a time: a new connection (CONNECT NAME:PORT
 *            through the proxy, or straight to the origin), TLS with SNI NAME, one GET, close;
 *            latency from TCP connect to the end of the response; prints `LOADGEN_RESULT {json}`.
 */
import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import { performance } from 'node:perf_hooks';
import { Channel, ChannelError, type ChannelTarget } from './loadgen-channel.js';
import { percentileOfSorted } from './stats.js';
import type { HoldDone, LoadOptions, LoadResult } from './loadgen-types.js';

const LATENCY_CAPACITY = 4_000_000;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

const targetOf = (o: LoadOptions): ChannelTarget => ({
  mode: o.mode,
  proxyPort: o.proxyPort,
  originPort: o.originPort,
  tls: o.tls,
  // The version cap belongs to the context: tls.connect ignores maxVersion when given a secureContext.
  secureContext: tls.createSecureContext({ ...(o.caFile ? { ca: readFileSync(o.caFile) } : {}), ...(o.tlsResume ? { maxVersion: 'TLSv1.2' as const } : {}) }),
  servername: o.servername,
  authorityHost: o.authorityHost ?? '127.0.0.1',
  ...(o.tlsResume ? { resumption: { session: undefined } } : {}),
});

const run = async (o: LoadOptions): Promise<LoadResult> => {
  const target = targetOf(o);
  const latencies = new Float64Array(LATENCY_CAPACITY);
  let recorded = 0;
  let requests = 0;
  let non200 = 0;
  let errors = 0;
  let opened = 0;
  let resumed = 0;
  const statuses: Record<string, number> = {};
  const errorKinds: Record<string, number> = {};
  const errorSamples: string[] = [];
  const live = new Set<Channel>();
  const start = performance.now();
  const deadline = start + o.durationSec * 1000;
  let stopped = false;

  const recordError = (err: unknown): void => {
    if (stopped) return;
    errors += 1;
    const kind = err instanceof ChannelError ? err.kind : 'other';
    errorKinds[kind] = (errorKinds[kind] ?? 0) + 1;
    if (errorSamples.length < 5) errorSamples.push(`${kind}: ${(err as Error).message}`);
  };

  // Watchdog: a request outstanding for longer than timeoutMs fails its connection.
  const watchdog = setInterval(() => {
    const now = performance.now();
    for (const ch of live) {
      if (ch.busy && now - ch.sentAt > o.timeoutMs) ch.destroy(new ChannelError('timeout', `no response within ${o.timeoutMs} ms`));
    }
  }, 250);

  const worker = async (): Promise<void> => {
    while (!stopped) {
      const openedAt = performance.now();
      let ch: Channel;
      try {
        ch = await Channel.open(target, o.path, o.newConnectionPerRequest, o.timeoutMs);
      } catch (err) {
        recordError(err);
        await sleep(5);
        continue;
      }
      opened += 1;
      if (ch.resumed) resumed += 1;
      live.add(ch);
      try {
        while (!stopped) {
          const sentAt = performance.now();
          const response = await ch.request(sentAt);
          const now = performance.now();
          if (now > deadline) { stopped = true; break; }
          requests += 1;
          statuses[response.status] = (statuses[response.status] ?? 0) + 1;
          if (response.status !== 200) non200 += 1;
          if (recorded < LATENCY_CAPACITY) latencies[recorded++] = now - (o.newConnectionPerRequest ? openedAt : sentAt);
          if (response.close || o.newConnectionPerRequest) break;
        }
      } catch (err) {
        recordError(err);
      } finally {
        live.delete(ch);
        ch.destroy();
      }
    }
  };

  const workers = Array.from({ length: o.connections }, () => worker());
  await sleep(Math.max(0, deadline - performance.now()));
  stopped = true;
  clearInterval(watchdog);
  for (const ch of live) ch.destroy();
  await Promise.race([Promise.allSettled(workers), sleep(2000)]);
  if (requests === 0) {
    errors += 1;
    errorKinds['no-responses'] = (errorKinds['no-responses'] ?? 0) + 1;
    if (errorSamples.length < 5) errorSamples.push('no-responses: not a single response in the whole run');
  }
  const elapsedSec = (deadline - start) / 1000;
  const sorted = latencies.subarray(0, recorded).sort();
  return {
    requests,
    non200,
    errors,
    statuses,
    errorKinds,
    errorSamples,
    elapsedSec,
    rps: requests / elapsedSec,
    p50Ms: percentileOfSorted(sorted, 50),
    p99Ms: percentileOfSorted(sorted, 99),
    connections: opened,
    ...(o.tlsResume ? { resumed } : {}),
  };
};

const firstContact = async (o: LoadOptions): Promise<LoadResult> => {
  const base = targetOf(o);
  const hosts = o.hosts ?? [];
  const latencies: number[] = [];
  let non200 = 0;
  let errors = 0;
  const statuses: Record<string, number> = {};
  const errorKinds: Record<string, number> = {};
  const errorSamples: string[] = [];
  const start = performance.now();
  const deadline = start + o.durationSec * 1000;
  for (const host of hosts) {
    if (performance.now() > deadline) {
      errors += 1;
      errorKinds['time-limit'] = (errorKinds['time-limit'] ?? 0) + 1;
      if (errorSamples.length < 5) errorSamples.push(`time-limit: stopped before ${host}`);
      break;
    }
    const openedAt = performance.now();
    let ch: Channel | undefined;
    try {
      ch = await Channel.open({ ...base, servername: host, authorityHost: host }, o.path, true, o.timeoutMs);
      const channel = ch;
      const response = await Promise.race([
        channel.request(performance.now()),
        sleep(o.timeoutMs).then(() => { throw new ChannelError('timeout', `no response within ${o.timeoutMs} ms`); }),
      ]);
      statuses[response.status] = (statuses[response.status] ?? 0) + 1;
      if (response.status !== 200) non200 += 1;
      latencies.push(performance.now() - openedAt);
    } catch (err) {
      errors += 1;
      const kind = err instanceof ChannelError ? err.kind : 'other';
      errorKinds[kind] = (errorKinds[kind] ?? 0) + 1;
      if (errorSamples.length < 5) errorSamples.push(`${host}: ${kind}: ${(err as Error).message}`);
    } finally {
      ch?.destroy();
    }
  }
  const elapsedSec = (performance.now() - start) / 1000;
  const sorted = Float64Array.from(latencies).sort();
  return {
    requests: latencies.length,
    non200,
    errors,
    statuses,
    errorKinds,
    errorSamples,
    elapsedSec,
    rps: latencies.length / elapsedSec,
    p50Ms: percentileOfSorted(sorted, 50),
    p99Ms: percentileOfSorted(sorted, 99),
    maxMs: sorted.length > 0 ? (sorted[sorted.length - 1] ?? Number.NaN) : Number.NaN,
    connections: latencies.length + errors,
  };
};

const hold = async (o: LoadOptions): Promise<void> => {
  const target = targetOf(o);
  const channels: Channel[] = [];
  let failed = 0;
  const samples: string[] = [];
  let next = 0;
  const opener = async (): Promise<void> => {
    while (next < o.connections) {
      next += 1;
      try {
        channels.push(await Channel.open(target, o.path, false, o.timeoutMs));
      } catch (err) {
        failed += 1;
        if (samples.length < 5) samples.push((err as Error).message);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(100, o.connections) }, () => opener()));
  const stillOpen = (): number => channels.filter((c) => !c.socket.destroyed).length;
  process.stdout.write(`HOLD_READY ${JSON.stringify({ ok: stillOpen(), failed, samples })}\n`);
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, (o.holdSeconds ?? 60) * 1000);
    const finish = (): void => { clearTimeout(timer); resolve(); };
    process.once('SIGTERM', finish);
    process.stdin.once('end', finish).once('close', finish).resume();
  });
  const open = channels.filter((c) => !c.socket.destroyed);
  let verified = 0;
  let verifyFailed = 0;
  const verifySamples: string[] = [];
  if (o.verifyHeld) {
    // One request per open tunnel, 100 at a time, each bounded by timeoutMs.
    let index = 0;
    const verifier = async (): Promise<void> => {
      while (index < open.length) {
        const ch = open[index++] as Channel;
        try {
          const response = await Promise.race([
            ch.request(performance.now()),
            sleep(o.timeoutMs).then(() => { throw new ChannelError('timeout', `no response within ${o.timeoutMs} ms`); }),
          ]);
          if (response.status === 200) verified += 1;
          else { verifyFailed += 1; if (verifySamples.length < 5) verifySamples.push(`status ${response.status}`); }
        } catch (err) {
          verifyFailed += 1;
          if (verifySamples.length < 5) verifySamples.push((err as Error).message);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(100, open.length) }, () => verifier()));
  }
  const done: HoldDone = { stillOpen: open.length, verified, verifyFailed, samples: verifySamples };
  process.stdout.write(`HOLD_DONE ${JSON.stringify(done)}\n`);
  for (const ch of channels) ch.destroy();
};

const main = async (): Promise<void> => {
  const o = JSON.parse(process.argv[2] ?? '{}') as LoadOptions;
  // Hard bound on this process, whatever happens.
  const limitSec = (o.kind === 'hold' ? (o.holdSeconds ?? 60) + 120 : o.durationSec + 30);
  setTimeout(() => { process.stderr.write('loadgen: hard time limit\n'); process.exit(3); }, limitSec * 1000).unref();
  if (o.kind === 'hold') {
    await hold(o);
  } else if (o.kind === 'first-contact') {
    const result = await firstContact(o);
    process.stdout.write(`LOADGEN_RESULT ${JSON.stringify(result)}\n`);
  } else {
    const result = await run(o);
    process.stdout.write(`LOADGEN_RESULT ${JSON.stringify(result)}\n`);
  }
  process.exit(0);
};

await main();
