import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ProxyConfigSchema } from '../../../src/config/schema.js';
import { compilePolicy } from '../../../src/policy/policy-engine.js';

/**
 * Cloud Storage and S3 object names under `paths` rules (docs/configuration.md, "Paths"):
 * after the rule's prefix an encoded slash is data and passes; a dot-segment in any reading
 * is refused; the segments the prefix covers can't be spelled with %2F.
 */
const policy = compilePolicy(ProxyConfigSchema.parse({
  rules: [
    {
      name: 'gcs-json', hosts: ['www.googleapis.com', 'storage.googleapis.com'], methods: ['GET', 'POST', 'PUT', 'DELETE'],
      paths: ['/storage/v1/b/allowed-bkt', '/upload/storage/v1/b/allowed-bkt', '/download/storage/v1/b/allowed-bkt'],
    },
    { name: 'gcs-xml', hosts: ['storage.googleapis.com'], paths: ['/allowed-bkt'] },
    { name: 's3-path', hosts: ['s3.amazonaws.com', 's3.eu-west-1.amazonaws.com'], paths: ['/allowed-bkt/'] },
    { name: 's3-vhost', hosts: ['allowed-bkt.s3.amazonaws.com'], paths: ['/'] },
  ],
}).rules);

type Row = readonly [name: string, host: string, method: string, target: string, expected: 'allow' | 'path-not-allowed' | 'ambiguous-path'];

const G = 'www.googleapis.com';
const X = 'storage.googleapis.com';
const S3 = 's3.amazonaws.com';
const rows: readonly Row[] = [
  // GCS JSON API: objects.get / list / delete / insert / rewrite.
  ['GCS JSON: an object name with an encoded slash', G, 'GET', '/storage/v1/b/allowed-bkt/o/dir%2Ffile', 'allow'],
  ['GCS JSON: an object name with a lowercase encoded slash', G, 'GET', '/storage/v1/b/allowed-bkt/o/dir%2ffile.txt?alt=media', 'allow'],
  ['GCS JSON: a deep object name', G, 'GET', '/storage/v1/b/allowed-bkt/o/a%2Fb%2Fc%2Fd.tar.gz?alt=media&generation=12', 'allow'],
  ['GCS JSON: a folder placeholder object', G, 'DELETE', '/storage/v1/b/allowed-bkt/o/dir%2F', 'allow'],
  ['GCS JSON: a name with spaces and unicode', G, 'GET', '/storage/v1/b/allowed-bkt/o/my%20dir%2Ff%C3%A9e.txt', 'allow'],
  ['GCS JSON: a name with dots that is no dot-segment', G, 'GET', '/storage/v1/b/allowed-bkt/o/v1.2%2F..backup%2F.hidden', 'allow'],
  ['GCS JSON: listing with a prefix', G, 'GET', '/storage/v1/b/allowed-bkt/o?prefix=dir%2F&delimiter=%2F', 'allow'],
  ['GCS JSON: rewrite between two names in the bucket', G, 'POST', '/storage/v1/b/allowed-bkt/o/a%2Fb/rewriteTo/b/allowed-bkt/o/c%2Fd', 'allow'],
  ['GCS JSON: resumable upload with the name in the query', G, 'POST', '/upload/storage/v1/b/allowed-bkt/o?uploadType=resumable&name=a%2Fb', 'allow'],
  ['GCS JSON: multipart upload', G, 'POST', '/upload/storage/v1/b/allowed-bkt/o?uploadType=multipart', 'allow'],
  ['GCS JSON: media upload with a dot-dot in the query name (the query is not a path)', G, 'POST', '/upload/storage/v1/b/allowed-bkt/o?uploadType=media&name=..%2Fx', 'allow'],
  ['GCS JSON: download endpoint', G, 'GET', '/download/storage/v1/b/allowed-bkt/o/dir%2Ffile?alt=media', 'allow'],
  ['GCS JSON: another bucket', G, 'GET', '/storage/v1/b/other-bkt/o/dir%2Ffile', 'path-not-allowed'],
  ['GCS JSON: a bucket that only starts like the allowed one', G, 'GET', '/storage/v1/b/allowed-bkt-evil/o/x', 'path-not-allowed'],
  ['GCS JSON: an encoded slash glued to the bucket name', G, 'GET', '/storage/v1/b/allowed-bkt%2F..%2Fother-bkt/o/x', 'ambiguous-path'],
  ['GCS JSON: an encoded slash inside the prefix', G, 'GET', '/storage%2Fv1/b/allowed-bkt/o/x', 'ambiguous-path'],
  ['GCS JSON: the whole prefix behind encoded slashes', G, 'GET', '/storage%2Fv1%2Fb%2Fallowed-bkt/o/x', 'ambiguous-path'],
  ['GCS JSON: the bucket segment after an encoded slash', G, 'GET', '/storage/v1/b%2Fallowed-bkt/o/x', 'ambiguous-path'],
  ['GCS JSON: an encoded slash that hides another bucket', G, 'GET', '/storage/v1/b%2Fother-bkt/o/x', 'path-not-allowed'],
  ['GCS JSON: traversal out of the bucket with %2F..%2F', G, 'DELETE', '/storage/v1/b/allowed-bkt/o/x%2F..%2F..%2F..%2Fother-bkt%2Fo%2Fvictim', 'ambiguous-path'],
  ['GCS JSON: traversal with encoded dots', G, 'GET', '/storage/v1/b/allowed-bkt/o/%2e%2e%2F%2e%2e%2Fother-bkt', 'ambiguous-path'],
  ['GCS JSON: traversal with literal dot-dot segments', G, 'GET', '/storage/v1/b/allowed-bkt/../other-bkt/o/x', 'ambiguous-path'],
  ['GCS JSON: traversal with double-encoded separators', G, 'GET', '/storage/v1/b/allowed-bkt/o/x%252F..%252Fy', 'ambiguous-path'],
  ['GCS JSON: a backslash traversal', G, 'GET', '/storage/v1/b/allowed-bkt/o/x%5C..%5Cy', 'ambiguous-path'],
  ['GCS JSON: upload into another bucket', G, 'POST', '/upload/storage/v1/b/other-bkt/o?uploadType=resumable&name=a%2Fb', 'path-not-allowed'],
  // GCS XML API on storage.googleapis.com: the bucket is the first segment.
  ['GCS XML: an object with literal slashes', X, 'GET', '/allowed-bkt/dir/file', 'allow'],
  ['GCS XML: an object with an encoded slash', X, 'GET', '/allowed-bkt/dir%2Ffile', 'allow'],
  ['GCS XML: listing with a prefix', X, 'GET', '/allowed-bkt?prefix=dir/&delimiter=/', 'allow'],
  ['GCS XML: another bucket', X, 'GET', '/other-bkt/dir/file', 'path-not-allowed'],
  ['GCS XML: the bucket and key joined by %2F', X, 'GET', '/allowed-bkt%2Fdir/file', 'ambiguous-path'],
  ['GCS XML: traversal to another bucket', X, 'GET', '/allowed-bkt/dir%2F..%2F..%2Fother-bkt%2Fx', 'ambiguous-path'],
  // S3, path-style and virtual-hosted.
  ['S3 path-style: a key with literal slashes', S3, 'GET', '/allowed-bkt/dir/file', 'allow'],
  ['S3 path-style: a key with an encoded slash', S3, 'PUT', '/allowed-bkt/dir%2Ffile', 'allow'],
  ['S3 path-style: a multipart upload part', S3, 'PUT', '/allowed-bkt/big%2Ffile?partNumber=2&uploadId=abc', 'allow'],
  ['S3 path-style: listing (ListObjectsV2)', S3, 'GET', '/allowed-bkt/?list-type=2&prefix=dir%2F', 'allow'],
  ['S3 path-style: the bucket itself without its slash (prefix ends in /)', S3, 'GET', '/allowed-bkt', 'path-not-allowed'],
  ['S3 path-style: another bucket', S3, 'GET', '/other-bkt/x', 'path-not-allowed'],
  ['S3 path-style: the bucket glued to the key with %2F', S3, 'GET', '/allowed-bkt%2Fx', 'ambiguous-path'],
  ['S3 path-style: traversal in the key', S3, 'GET', '/allowed-bkt/a%2F..%2F..%2Fother-bkt%2Fx', 'ambiguous-path'],
  ['S3 virtual-hosted: a key with an encoded slash', 'allowed-bkt.s3.amazonaws.com', 'GET', '/dir%2Ffile', 'allow'],
  ['S3 virtual-hosted: a dot-dot key', 'allowed-bkt.s3.amazonaws.com', 'GET', '/dir%2F..%2Fx', 'ambiguous-path'],
];

for (const [name, host, method, target, expected] of rows) {
  test(`${name}: ${method} ${target} -> ${expected}`, () => {
    const decision = policy.decideRequest({
      destination: { host: { kind: 'name', host }, port: 443 }, clientIp: '10.0.0.1', transport: 'tls', method, pathAndQuery: target,
    });
    assert.equal(decision.verdict === 'allow' ? 'allow' : decision.reason, expected, JSON.stringify(decision));
  });
}

test('a rule path with an encoded slash is a config error', () => {
  const result = ProxyConfigSchema.safeParse({ rules: [{ name: 'x', hosts: ['a.test'], paths: ['/storage/v1/b/bkt%2Fo'] }] });
  assert.equal(result.success, false);
  assert.match(JSON.stringify(result.error?.issues), /encoded slash/);
});
