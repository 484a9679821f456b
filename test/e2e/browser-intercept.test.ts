import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { accessSync, constants, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { startHttpsOrigin } from '../helpers/origin.js';
import type { FlowRecord } from '../../src/flow/flow-record.js';
import { startTestProxy, testProxyCa, testProxyCaPath } from '../helpers/test-proxy.js';
import { makeOriginCertificates } from '../helpers/test-certs.js';

// Issue 3: "Chromium loads an intercepted page with no certificate error when given the CA".
// A real browser (Debian's chromium, never one Playwright downloads) trusts the proxy CA only
// through an NSS db in a throwaway HOME, and reaches the origin only through Portcullis.

const CHROMIUM = '/usr/bin/chromium';
const GCS = 'www.googleapis.com';
const TIMEOUT_MS = 30_000;
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const SCREENSHOT = path.join(ROOT, 'docs', 'screenshots', 'chromium-intercepted.png');

const findCertutil = (): string | undefined => {
  for (const dir of (process.env.PATH ?? '/usr/bin:/bin').split(':').concat('/usr/bin')) {
    const candidate = path.join(dir, 'certutil');
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // try the next one
    }
  }
  return undefined;
};

const executable = (file: string): boolean => {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
};

const certutil = findCertutil();
const skip = !executable(CHROMIUM)
  ? `${CHROMIUM} is missing (Debian: apt-get install chromium, or bash scripts/install-test-deps.sh)`
  : certutil === undefined
    ? 'certutil is missing (Debian: apt-get install libnss3-tools, or bash scripts/install-test-deps.sh)'
    : false;

const PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>allowed-bkt objects</title>
<style>body{font:16px/1.5 sans-serif;margin:40px;color:#222}code{background:#eee;padding:2px 4px}</style></head>
<body><h1>Test origin: allowed-bkt</h1>
<p id="marker">origin-served-allowed-bkt</p>
<p>This page came from the HTTPS test origin for <code>${GCS}</code>, through a Portcullis tunnel that
decrypted it with a certificate minted by the Portcullis CA, which this Chromium trusts through its NSS db.</p>
</body></html>
`;

test('Chromium trusting the proxy CA loads an intercepted page with no certificate error; a denied path shows the 403', {
  skip, timeout: 4 * TIMEOUT_MS,
}, async (t) => {
  const originCerts = makeOriginCertificates([GCS]);
  const ca = await testProxyCa();
  const origin = await startHttpsOrigin(t, originCerts, (req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    res.end(PAGE);
  });
  const proxy = await startTestProxy(t, {
    resolve: { [GCS]: '127.0.0.1' },
    upstream: { tls: { extra_ca: [originCerts.caCertPath] } },
    rules: [{ name: 'gcs', hosts: [GCS], ports: [origin.port], paths: ['/storage/v1/b/allowed-bkt'] }],
  });

  // A HOME of its own whose NSS db trusts only the proxy CA (as a TLS server issuer).
  const home = mkdtempSync(path.join(tmpdir(), 'pcl-chromium-home-'));
  t.after(() => rmSync(home, { recursive: true, force: true }));
  const nssdb = path.join(home, '.pki', 'nssdb');
  mkdirSync(nssdb, { recursive: true });
  execFileSync(certutil as string, ['-N', '-d', `sql:${nssdb}`, '--empty-password'], { stdio: 'pipe', timeout: TIMEOUT_MS });
  execFileSync(certutil as string, ['-A', '-d', `sql:${nssdb}`, '-t', 'C,,', '-n', 'portcullis', '-i', testProxyCaPath], { stdio: 'pipe', timeout: TIMEOUT_MS });

  const browser: Browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    timeout: TIMEOUT_MS,
    env: { ...process.env, HOME: home, XDG_CONFIG_HOME: path.join(home, '.config'), XDG_CACHE_HOME: path.join(home, '.cache') },
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage',
      `--proxy-server=${proxy.url}`,
      // Any name Chromium resolves itself fails, so reaching the origin at all proves the proxy carried it.
      '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1',
    ],
  });
  t.after(() => browser.close());
  const context = await browser.newContext({ ignoreHTTPSErrors: false });
  const page = await context.newPage();
  page.setDefaultTimeout(TIMEOUT_MS);
  const base = `https://${GCS}:${origin.port}`;

  const goto = async (url: string) => {
    try {
      const response = await page.goto(url, { timeout: TIMEOUT_MS, waitUntil: 'load' });
      assert.ok(response, `no response for ${url}`);
      return response;
    } catch (error) {
      throw new Error(`Chromium could not load ${url}: ${(error as Error).message}\nflows: ${JSON.stringify(proxy.flows)}`, { cause: error });
    }
  };

  const allowedUrl = `${base}/storage/v1/b/allowed-bkt/o`;
  const allowed = await goto(allowedUrl);
  assert.equal(allowed.status(), 200);
  assert.equal(await page.title(), 'allowed-bkt objects');
  assert.equal((await page.textContent('#marker'))?.trim(), 'origin-served-allowed-bkt');
  assert.ok(origin.seen.some((s) => s.url === '/storage/v1/b/allowed-bkt/o'), JSON.stringify(origin.seen.map((s) => s.url)));

  // The certificate Chromium accepted was minted by the Portcullis CA, not the origin's own.
  const caCommonName = /^CN=(.*)$/m.exec(new X509Certificate(ca.certPem).subject)?.[1];
  const security = await allowed.securityDetails();
  assert.ok(security, 'Chromium reported no TLS details for the intercepted page');
  assert.match(security.issuer ?? '', /Portcullis/);
  assert.equal(security.issuer, caCommonName);
  assert.equal(security.subjectName, GCS);

  assert.ok(proxy.flows.some((f) => f.kind === 'http' && f.url === allowedUrl && f.rule === 'gcs' && f.parentId !== undefined), JSON.stringify(proxy.flows));

  if (process.env.PORTCULLIS_SCREENSHOTS === '1') {
    // Headless Chromium has no address bar: the test writes what it verified onto the page before the shot.
    // (Browser-side code is passed as strings: this project compiles without the DOM types.)
    const protocol = String(await page.evaluate("performance.getEntriesByType('navigation')[0]?.nextHopProtocol ?? '?'"));
    const note = `Chromium ${browser.version()} via Portcullis ${proxy.url}\nURL: ${page.url()}\n`
      + `TLS: ${security.protocol ?? '?'}, ${protocol}; certificate for ${security.subjectName ?? '?'} issued by "${security.issuer ?? '?'}"; no certificate error`;
    await page.evaluate(`(() => {
      const banner = document.createElement('pre');
      banner.textContent = ${JSON.stringify(note)};
      banner.setAttribute('style', 'position:fixed;left:0;right:0;bottom:0;margin:0;padding:12px 40px;background:#e8f5e9;border-top:2px solid #2e7d32;font:13px/1.5 monospace;white-space:pre-wrap');
      document.body.append(banner);
    })()`);
    mkdirSync(path.dirname(SCREENSHOT), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, timeout: TIMEOUT_MS });
  }

  const denied = await goto(`${base}/storage/v1/b/other-bkt/o`);
  assert.equal(denied.status(), 403);
  const deniedText = await page.textContent('body') ?? '';
  assert.match(deniedText, /Portcullis denied this request\./);
  assert.match(deniedText, /path-not-allowed/);
  assert.equal(denied.headers()['x-portcullis-reason'], 'path-not-allowed');
  assert.ok(!origin.seen.some((s) => s.url.includes('other-bkt')), JSON.stringify(origin.seen.map((s) => s.url)));
  // Whatever else Chromium asked for on its own (a favicon) was the proxy's to deny: only the bucket reached the origin.
  assert.ok(origin.seen.every((s) => s.url.startsWith('/storage/v1/b/allowed-bkt/')), JSON.stringify(origin.seen.map((s) => s.url)));

  // A tunnel's flow is recorded when it ends: close the browser, then every request for the host
  // went through an intercepted CONNECT tunnel (none around the proxy).
  await browser.close();
  const forHost = (): FlowRecord[] => proxy.flows.filter((f) => f.host === GCS);
  const orphans = (): FlowRecord[] => forHost().filter((f) => f.kind === 'http' && !proxy.flows.some((p) => p.kind === 'tunnel' && p.id === f.parentId));
  const deadline = Date.now() + TIMEOUT_MS;
  while (orphans().length > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  assert.deepEqual(orphans(), [], 'requests for the host outside an intercepted tunnel (or a tunnel that never ended)');
  const tunnels = forHost().filter((f) => f.kind === 'tunnel');
  assert.ok(tunnels.length > 0, JSON.stringify(proxy.flows));
  for (const tunnel of tunnels) {
    assert.equal(tunnel.method, 'CONNECT');
    assert.equal(tunnel.url, `${GCS}:${origin.port}`);
    assert.equal(tunnel.sni, GCS);
    assert.equal(tunnel.tunnelMode, 'intercept');
    assert.equal(tunnel.verdict, 'allow');
  }
  // Chromium's own background traffic (component updates, accounts) met deny-by-default.
  const others = proxy.flows.filter((f) => f.host !== GCS);
  assert.deepEqual(others.filter((f) => f.verdict !== 'deny').map((f) => f.url), []);
});
