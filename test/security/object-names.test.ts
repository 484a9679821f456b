import assert from 'node:assert/strict';
import { test } from 'node:test';
import { curl } from '../helpers/clients.js';
import { startHttpOrigin, startHttpsOrigin } from '../helpers/origin.js';
import { makeOriginCertificates } from '../helpers/test-certs.js';
import { startTestProxy, testProxyCa, testProxyCaPath } from '../helpers/test-proxy.js';

/**
 * Cloud Storage and S3 object names through a real proxy: over interception (HTTPS, curl
 * trusting the proxy CA) and as plain forward requests. An allowed row must reach the origin
 * byte for byte as curl sent it (--path-as-is: curl changes nothing); a refused row must
 * leave the origin without a request, and, under rules with paths, without a connection.
 */
const GCS = 'www.googleapis.com';
const XML = 'storage.googleapis.com';
const S3 = 's3.amazonaws.com';
const certs = makeOriginCertificates([GCS, XML, S3]);

type Row = readonly [name: string, host: string, method: string, path: string, expected: 'allow' | 'path-not-allowed' | 'ambiguous-path'];

const rows: readonly Row[] = [
  ['GCS JSON get of dir/file', GCS, 'GET', '/storage/v1/b/allowed-bkt/o/dir%2Ffile?alt=media', 'allow'],
  ['GCS JSON get with a lowercase %2f, kept as sent', GCS, 'GET', '/storage/v1/b/allowed-bkt/o/dir%2ffile?alt=media', 'allow'],
  ['GCS JSON delete of a folder placeholder', GCS, 'DELETE', '/storage/v1/b/allowed-bkt/o/dir%2F', 'allow'],
  ['GCS JSON list with an encoded prefix', GCS, 'GET', '/storage/v1/b/allowed-bkt/o?prefix=a%2Fb%2F&delimiter=%2F', 'allow'],
  ['GCS JSON name with spaces and UTF-8', GCS, 'GET', '/storage/v1/b/allowed-bkt/o/my%20dir%2Ff%C3%A9e.txt', 'allow'],
  ['GCS JSON resumable upload naming a%2Fb', GCS, 'POST', '/upload/storage/v1/b/allowed-bkt/o?uploadType=resumable&name=a%2Fb', 'allow'],
  ['GCS JSON download endpoint', GCS, 'GET', '/download/storage/v1/b/allowed-bkt/o/dir%2Ffile?alt=media', 'allow'],
  ['GCS JSON traversal with %2F..%2F', GCS, 'DELETE', '/storage/v1/b/allowed-bkt/o/x%2F..%2F..%2F..%2Fother-bkt%2Fo%2Fvictim', 'ambiguous-path'],
  ['GCS JSON traversal with %2e%2e', GCS, 'GET', '/storage/v1/b/allowed-bkt/o/%2e%2e%2F%2e%2e%2Fother-bkt', 'ambiguous-path'],
  ['GCS JSON traversal with double encoding', GCS, 'GET', '/storage/v1/b/allowed-bkt/o/x%252F..%252F..%252Fother-bkt', 'ambiguous-path'],
  ['GCS JSON bucket hidden behind %2F', GCS, 'GET', '/storage/v1/b%2Fallowed-bkt/o/x', 'ambiguous-path'],
  ['GCS JSON bucket glued to a traversal', GCS, 'GET', '/storage/v1/b/allowed-bkt%2F..%2Fother-bkt/o/x', 'ambiguous-path'],
  ['GCS JSON another bucket', GCS, 'GET', '/storage/v1/b/other-bkt/o/dir%2Ffile', 'path-not-allowed'],
  ['GCS XML dir/file with literal slashes', XML, 'GET', '/allowed-bkt/dir/file', 'allow'],
  ['GCS XML dir%2Ffile', XML, 'GET', '/allowed-bkt/dir%2Ffile', 'allow'],
  ['GCS XML traversal to another bucket', XML, 'GET', '/allowed-bkt/dir%2F..%2F..%2Fother-bkt%2Fx', 'ambiguous-path'],
  ['GCS XML bucket glued to its key', XML, 'GET', '/allowed-bkt%2Fdir', 'ambiguous-path'],
  ['S3 path-style key with %2F', S3, 'PUT', '/allowed-bkt/dir%2Ffile', 'allow'],
  ['S3 ListObjectsV2 with an encoded prefix', S3, 'GET', '/allowed-bkt/?list-type=2&prefix=dir%2F', 'allow'],
  ['S3 traversal in the key', S3, 'GET', '/allowed-bkt/a%2F..%2F..%2Fother-bkt%2Fx', 'ambiguous-path'],
  ['S3 another bucket', S3, 'GET', '/other-bkt/x', 'path-not-allowed'],
];

const rules = (port: number): unknown[] => [
  { name: 'gcs-json', hosts: [GCS], ports: [port], methods: ['GET', 'POST', 'DELETE'], paths: ['/storage/v1/b/allowed-bkt', '/upload/storage/v1/b/allowed-bkt', '/download/storage/v1/b/allowed-bkt'] },
  { name: 'gcs-xml', hosts: [XML], ports: [port], paths: ['/allowed-bkt'] },
  { name: 's3', hosts: [S3], ports: [port], paths: ['/allowed-bkt/'] },
];

for (const scheme of ['https', 'http'] as const) {
  test(`object names over ${scheme === 'https' ? 'interception' : 'plain HTTP forwarding'}: allowed ones reach the origin byte for byte, refused ones nothing`, async (t) => {
    await testProxyCa();
    const origin = scheme === 'https' ? await startHttpsOrigin(t, certs) : await startHttpOrigin(t);
    const proxy = await startTestProxy(t, {
      resolve: { [GCS]: '127.0.0.1', [XML]: '127.0.0.1', [S3]: '127.0.0.1' },
      upstream: { tls: { extra_ca: [certs.caCertPath] } },
      rules: rules(origin.port),
    });
    for (const [name, host, method, path, expected] of rows) {
      await t.test(`${name}: ${method} ${path} -> ${expected}`, async () => {
        const seenBefore = origin.seen.length;
        const connectionsBefore = origin.connections();
        const result = await curl(['--path-as-is', '--cacert', testProxyCaPath, '-x', proxy.url, '-X', method, ...(method === 'PUT' || method === 'POST' ? ['--data-binary', 'x'] : []),
          `${scheme}://${host}:${origin.port}${path}`]);
        const seen = origin.seen.slice(seenBefore);
        if (expected === 'allow') {
          assert.equal(result.status, 200, result.stderr + result.body);
          assert.deepEqual(seen.map((s) => `${s.method} ${s.url}`), [`${method} ${path}`]);
        } else {
          assert.equal(result.status, 403, result.stderr + result.body);
          assert.match(result.body, new RegExp(expected));
          assert.deepEqual(seen, []);
          if (scheme === 'https') assert.equal(origin.connections(), connectionsBefore, 'under rules with paths the origin is not even connected to');
        }
      });
    }
  });
}
