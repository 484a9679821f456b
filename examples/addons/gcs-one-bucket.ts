/**
 * Seed 000's policy as an addon: one Cloud Storage bucket, nothing else on www.googleapis.com.
 * The same answers as the declarative rule
 *
 *   - { name: gcs-one-bucket, hosts: [www.googleapis.com], paths: [/storage/v1/b/allowed-bkt], methods: [GET, POST] }
 *
 * decoy buckets (allowed-bkt-evil) and ambiguous paths included: the path is judged with the
 * same normalizer the declarative rule uses, segment by segment, and Portcullis refuses any
 * ambiguous path an addon would let through anyway.
 *
 *   addons: [./examples/addons/gcs-one-bucket.ts]
 */
import { defineAddon, normalizePath, pathMatchesPrefix } from 'portcullis';

const HOST = 'www.googleapis.com';
const BUCKET = process.env.GCS_BUCKET ?? 'allowed-bkt';
const PREFIX = `/storage/v1/b/${BUCKET}`;
const PORT = Number(process.env.GCS_PORT ?? 443);
const METHODS = new Set(['GET', 'POST']);

export default defineAddon({
  name: 'gcs-one-bucket',
  // Decrypt the host's tunnels, so every request is seen; other hosts are the rules' business.
  connect(flow) {
    if (flow.destination.host === HOST && flow.destination.port === PORT) return { verdict: 'allow', intercept: true };
  },
  requestHeaders(flow) {
    if (flow.destination.host !== HOST || flow.destination.port !== PORT) return;
    if (!METHODS.has(flow.request.method)) return { verdict: 'deny', reason: `method ${flow.request.method} is not allowed` };
    const normalized = normalizePath(flow.request.path);
    if (!normalized.ok) return { verdict: 'deny', reason: `ambiguous path: ${normalized.error}` };
    if (!pathMatchesPrefix(normalized.path, PREFIX)) return { verdict: 'deny', reason: `only bucket ${BUCKET}` };
    return { verdict: 'allow' };
  },
});
