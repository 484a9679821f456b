import type { AddonFlow, AddonRequest } from '../addons/addon-api.js';
import type { Destination } from '../flow/destination.js';
import type { Decision } from '../policy/decision.js';
import type { AnyFlow } from './flow.js';

/** How a hook sees a flow: plain data, no handle on the proxy's own objects. */
export const addonFlowView = (flow: AnyFlow, kind: 'tunnel' | 'http', destination: Destination, decision: Decision): AddonFlow => ({
  id: flow.id,
  kind,
  client: flow.client,
  ...(flow.user !== undefined ? { user: flow.user } : {}),
  listener: flow.listener,
  destination: { host: destination.host.host, port: destination.port },
  ...(flow.sni !== undefined ? { sni: flow.sni } : {}),
  decision: { verdict: decision.verdict, reason: decision.reason, ...(decision.rule !== undefined ? { rule: decision.rule } : {}) },
});

/** A raw header list as a hook's header object: names lowercased, repeats joined with ", " (HTTP/2 pseudo-headers left out). */
export const headerObject = (raw: readonly string[]): Record<string, string> => {
  const headers: Record<string, string> = {};
  for (let i = 0; i < raw.length; i += 2) {
    const name = (raw[i] as string).toLowerCase();
    if (name.startsWith(':')) continue;
    const value = raw[i + 1] as string;
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
  }
  return headers;
};

export const addonRequestView = (method: string, url: string, path: string, raw: readonly string[]): AddonRequest =>
  ({ method, url, path, headers: headerObject(raw) });
