import net from 'node:net';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fetch, ProxyAgent } from 'undici';
import { startHttpOrigin, startHttpsOrigin } from '../helpers/origin.js';
import { startTestProxy } from '../helpers/test-proxy.js';
import { curl, findPythonWithRequests, runCommand } from '../helpers/clients.js';
import { sendRaw, statusOf } from '../helpers/raw-client.js';
import { makeOriginCertificates } from '../helpers/test-certs.js';

const certs = makeOriginCertificates(['allowed.test', 'denied.test']);
const pinned = { 'allowed.test': '127.0.0.1', 'denied.test': '127.0.0.1' };

test('curl tunnels HTTPS to an allowed host, and the log shows the CONNECT with its rule', async (t) => {
  const origin = await startHttpsOrigin(t, certs);
  const proxy = await startTestProxy(t, { resolve: pinned, rules: [{ name: 'tls-ok', hosts: ['allowed.test'], ports: [origin.port] }] });
  const result = await curl(['--cacert', certs.caCertPath, '-x', proxy.url, `https://allowed.test:${origin.port}/secret?x=1`]);
  assert.equal(result.status, 200, result.stderr);
  assert.equal(result.body, 'origin saw GET /secret?x=1\n');
  assert.equal(origin.seen[0]?.headers.host, `allowed.test:${origin.port}`);
  const [flow] = await proxy.waitForFlows(1);
  assert.equal(flow?.kind, 'tunnel');
  assert.equal(flow?.method, 'CONNECT');
  assert.equal(flow?.url, `allowed.test:${origin.port}`);
  assert.equal(flow?.rule, 'tls-ok');
  assert.equal(flow?.tunnelMode, 'splice');
  assert.ok((flow?.bytesUp ?? 0) > 100 && (flow?.bytesDown ?? 0) > 100);
});

test('a denied CONNECT gets 403 before any tunnel and the origin sees no connection', async (t) => {
  const origin = await startHttpsOrigin(t, certs);
  const proxy = await startTestProxy(t, { resolve: pinned, rules: [{ name: 'tls-ok', hosts: ['allowed.test'], ports: [origin.port] }] });
  const result = await curl(['-v', '--cacert', certs.caCertPath, '-x', proxy.url, `https://denied.test:${origin.port}/`]);
  assert.notEqual(result.code, 0);
  assert.match(result.stderr, /403/);
  const raw = await sendRaw(proxy.port, `CONNECT denied.test:${origin.port} HTTP/1.1\r\nHost: denied.test:${origin.port}\r\n\r\n`);
  assert.equal(statusOf(raw), 403);
  assert.match(raw, /no-rule-matched/);
  assert.match(raw, /proxy-status: portcullis; error=http_request_denied/i);
  assert.equal(origin.connections(), 0);
});

test('CONNECT defaults to port 443 only, as Squid SSL_ports', async (t) => {
  const origin = await startHttpOrigin(t);
  const proxy = await startTestProxy(t, { resolve: pinned, rules: [{ name: 'no-ports', hosts: ['allowed.test'] }] });
  const raw = await sendRaw(proxy.port, `CONNECT allowed.test:${origin.port} HTTP/1.1\r\n\r\n`, { idleMs: 300 });
  assert.equal(statusOf(raw), 403);
  assert.match(raw, /port-not-allowed/);
  assert.equal(origin.connections(), 0);
});

test('a tunnel relays half-close: the reply written after the client\'s FIN still arrives', async (t) => {
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('end', () => socket.end(Buffer.concat(chunks).toString('utf8').toUpperCase()));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const port = (server.address() as net.AddressInfo).port;
  // Plain bytes through CONNECT: no ClientHello, so this tunnel needs missing_sni: allow.
  const proxy = await startTestProxy(t, { resolve: pinned, missing_sni: 'allow', rules: [{ name: 'echo', hosts: ['allowed.test'], ports: [port] }] });
  const reply = await new Promise<string>((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port: proxy.port, allowHalfOpen: true });
    let text = '';
    let established = false;
    socket.on('connect', () => socket.write(`CONNECT allowed.test:${port} HTTP/1.1\r\n\r\n`));
    socket.on('data', (c: Buffer) => {
      text += c.toString('latin1');
      if (!established && text.includes('\r\n\r\n')) {
        established = true;
        text = text.slice(text.indexOf('\r\n\r\n') + 4);
        socket.end('hello through the tunnel');
      }
    });
    socket.on('end', () => resolve(text));
    socket.on('error', reject);
    setTimeout(() => reject(new Error('timed out')), 5000).unref();
  });
  assert.equal(reply, 'HELLO THROUGH THE TUNNEL');
  const [flow] = await proxy.waitForFlows(1);
  assert.equal(flow?.bytesUp, 'hello through the tunnel'.length);
});

test('Python requests reaches an allowed HTTPS host through HTTPS_PROXY and is refused a denied one', async (t) => {
  const python = findPythonWithRequests();
  if (!python) {
    t.skip('python3 with requests is not installed (scripts/install-test-deps.sh installs python3-requests)');
    return;
  }
  const origin = await startHttpsOrigin(t, certs);
  const proxy = await startTestProxy(t, { resolve: pinned, rules: [{ name: 'py', hosts: ['allowed.test'], ports: [origin.port] }] });
  const script = `
import sys, requests
ok = requests.get(sys.argv[1], verify=sys.argv[3], timeout=10)
print(ok.status_code, ok.text.strip())
try:
    requests.get(sys.argv[2], verify=sys.argv[3], timeout=10)
    print('denied-host-passed')
except requests.exceptions.ProxyError as e:
    print('proxy-error', '403' in str(e))
`;
  const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', HTTPS_PROXY: proxy.url, HTTP_PROXY: proxy.url, NO_PROXY: '' };
  const result = await runCommand(python, ['-c', script, `https://allowed.test:${origin.port}/py`, `https://denied.test:${origin.port}/py`, certs.caCertPath], { env });
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stdout.trim().split('\n')[0], '200 origin saw GET /py');
  assert.equal(result.stdout.trim().split('\n')[1], 'proxy-error True');
  assert.equal(origin.seen.length, 1);
});

test('Node (undici ProxyAgent) tunnels to an allowed host', async (t) => {
  const origin = await startHttpsOrigin(t, certs);
  const proxy = await startTestProxy(t, { resolve: pinned, rules: [{ name: 'node', hosts: ['allowed.test'], ports: [origin.port] }] });
  const dispatcher = new ProxyAgent({ uri: proxy.url, requestTls: { ca: certs.caCert } });
  t.after(() => dispatcher.close());
  const response = await fetch(`https://allowed.test:${origin.port}/node`, { dispatcher });
  assert.equal(response.status, 200);
  assert.equal(await response.text(), 'origin saw GET /node\n');
  await assert.rejects(fetch(`https://denied.test:${origin.port}/node`, { dispatcher }));
  assert.equal(origin.seen.length, 1);
});

test('a rule with clients: matches CONNECT by the client address', async (t) => {
  const origin = await startHttpsOrigin(t, certs);
  const proxy = await startTestProxy(t, { resolve: pinned, rules: [
    { name: 'loopback-clients', hosts: ['allowed.test'], ports: [origin.port], clients: ['127.0.0.0/8'] },
    { name: 'other-clients', hosts: ['denied.test'], ports: [origin.port], clients: ['10.0.0.0/8'] },
  ] });
  const ok = await curl(['--cacert', certs.caCertPath, '-x', proxy.url, `https://allowed.test:${origin.port}/c`]);
  assert.equal(ok.status, 200, ok.stderr);
  const raw = await sendRaw(proxy.port, `CONNECT denied.test:${origin.port} HTTP/1.1\r\n\r\n`, { idleMs: 300 });
  assert.equal(statusOf(raw), 403);
  assert.match(raw, /client-not-allowed/);
  const flows = await proxy.waitForFlows(2);
  assert.equal(flows[0]?.client.address, '127.0.0.1');
});

test('a spliced tunnel to an IP address needs no SNI', async (t) => {
  const ipCerts = makeOriginCertificates(['127.0.0.1']);
  const origin = await startHttpsOrigin(t, ipCerts);
  const proxy = await startTestProxy(t, { rules: [{ name: 'ip', hosts: ['127.0.0.1'], ports: [origin.port] }] });
  const result = await curl(['--cacert', ipCerts.caCertPath, '-x', proxy.url, `https://127.0.0.1:${origin.port}/by-ip`]);
  assert.equal(result.status, 200, result.stderr);
  assert.deepEqual(origin.seen.map((s) => s.url), ['/by-ip']);
});
