/**
 * `--baseline-ref REF`: a second Portcullis build (REF exported and built in a temp dir), run
 * exactly as the main one with the same config, so one run shows a change against the commit
 * before it under the same machine conditions.
 */
import type { ProxyPeer } from './peer.js';
import { portcullisPeer } from './peer-portcullis.js';

export const baselinePeer = (root: string, ref: string): ProxyPeer => ({
  id: 'baseline',
  label: `Portcullis ${ref}`,
  canIntercept: true,
  unavailable: () => portcullisPeer.unavailable(root),
  version: async () => portcullisPeer.version(root),
  start: async (ctx) => portcullisPeer.start({ ...ctx, portcullisRoot: root }),
});
