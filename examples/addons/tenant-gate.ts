/**
 * Only requests that say which tenant they are for may pass: a request without an X-Tenant
 * header (or with an unknown tenant) is denied with the addon's reason, whatever the rules allow.
 *
 *   addons: [./examples/addons/tenant-gate.ts]    # TENANTS=blue,green in the environment
 */
import { defineAddon } from 'portcullis';

const TENANTS = new Set((process.env.TENANTS ?? 'blue,green').split(',').map((t) => t.trim()).filter(Boolean));

export default defineAddon({
  name: 'tenant-gate',
  requestHeaders(flow) {
    const tenant = flow.request.headers['x-tenant'];
    if (tenant === undefined) return { verdict: 'deny', reason: 'X-Tenant header missing' };
    if (!TENANTS.has(tenant)) return { verdict: 'deny', reason: `unknown tenant ${JSON.stringify(tenant.slice(0, 40))}` };
    // The tenant is for Portcullis: the server does not need it.
    delete flow.request.headers['x-tenant'];
  },
});
