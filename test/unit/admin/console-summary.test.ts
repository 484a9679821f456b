import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { createConsoleSummary } from '../../../src/admin/console-summary.js';

const terminal = (columns = 120): Writable & { columns: number; text: string } => {
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      stream.text += chunk.toString();
      callback();
    },
  }) as Writable & { columns: number; text: string };
  stream.text = '';
  stream.columns = columns;
  return stream;
};

const write = (stream: Writable, text: string): Promise<void> =>
  new Promise((resolve, reject) => stream.write(text, (error) => (error ? reject(error) : resolve())));

test('the line shows connections, requests per second, flows and denials', () => {
  const out = terminal();
  let stats = { flows: 0, denied: 0, wouldDeny: 0, activeConnections: 1 };
  let now = 0;
  const summary = createConsoleSummary({ out, color: false, now: () => now, intervalMs: 60_000 });
  summary.start({ stats: () => stats });
  assert.equal(summary.line(), '» 1 connection · 0.0 req/s · 0 flows · 0 denied');
  assert.equal(out.text, '\r\u001b[2K» 1 connection · 0.0 req/s · 0 flows · 0 denied');
  stats = { flows: 1234, denied: 5, wouldDeny: 2, activeConnections: 3 };
  now = 1;
  assert.equal(summary.line(), '» 3 connections · 0.0 req/s · 1,234 flows · 5 denied · 2 would-deny');
  summary.stop();
  assert.ok(out.text.endsWith('\r\u001b[2K'), 'stop erases the line');
});

test('each log line erases the summary first and draws it again after', async () => {
  const out = terminal();
  const summary = createConsoleSummary({ out, color: false, intervalMs: 60_000 });
  summary.start({ stats: () => ({ flows: 1, denied: 0, wouldDeny: 0, activeConnections: 0 }) });
  out.text = '';
  await write(summary.wrap(out), '15:00:00.000 ALLOW 127.0.0.1 GET http://example.com/\n');
  assert.equal(out.text, '\r\u001b[2K15:00:00.000 ALLOW 127.0.0.1 GET http://example.com/\n\r\u001b[2K» 0 connections · 0.0 req/s · 1 flow · 0 denied');
  summary.stop();
});

test('denials are red, would-deny yellow, and the line never wraps', () => {
  const out = terminal(40);
  const summary = createConsoleSummary({ out, color: true, intervalMs: 60_000, suffix: 'dashboard http://127.0.0.1:9090/' });
  summary.start({ stats: () => ({ flows: 10, denied: 2, wouldDeny: 1, activeConnections: 0 }) });
  const line = summary.line();
  assert.match(line, /\u001b\[2m»\u001b\[0m /);
  const visible = line.replace(/\u001b\[[0-9;]*m/g, '');
  assert.ok(visible.length <= 40, visible);
  assert.ok(visible.endsWith('…'));
  summary.stop();
  const wide = createConsoleSummary({ out: terminal(200), color: true, intervalMs: 60_000 });
  wide.start({ stats: () => ({ flows: 10, denied: 2, wouldDeny: 1, activeConnections: 0 }) });
  assert.match(wide.line(), /\u001b\[31m2 denied\u001b\[0m · \u001b\[33m1 would-deny\u001b\[0m/);
  wide.stop();
});

test('requests per second come from the flow count between samples', async () => {
  const out = terminal();
  let flows = 0;
  let now = 10_000;
  const summary = createConsoleSummary({ out, color: false, now: () => now, intervalMs: 20 });
  summary.start({ stats: () => ({ flows, denied: 0, wouldDeny: 0, activeConnections: 0 }) });
  flows = 25;
  now = 15_000;
  await new Promise((resolve) => setTimeout(resolve, 60));
  assert.match(summary.line(), /5\.0 req\/s · 25 flows/);
  summary.stop();
});
