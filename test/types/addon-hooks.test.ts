/**
 * Compile-time checks of the addon API (run by `npm run typecheck`, which `npm test` runs first):
 * each @ts-expect-error must meet an error, or the type check fails.
 */
import { defineAddon } from 'portcullis';

export const misspelt = defineAddon({
  name: 'typo',
  // @ts-expect-error a misspelt hook is a compile error
  requestHeader() {},
});

export const wrongVerdict = defineAddon({
  name: 'wrong',
  // @ts-expect-error a verdict is allow or deny
  connect: () => ({ verdict: 'maybe' }),
});

export const fine = defineAddon({
  name: 'fine',
  requestHeaders: (flow) => (flow.request.headers['x-tenant'] ? undefined : { verdict: 'deny', reason: 'X-Tenant header missing' }),
});
