import { deny } from '../policy/decision.js';
import type { PipelineContext } from './context.js';
import { enforce } from './decide.js';
import type { HttpFlow } from './flow.js';
import type { Refusal } from './refusal.js';

/**
 * After a 101 the proxy no longer sees requests, only bytes. A WebSocket is the one upgrade
 * allowed: its upgrade request was judged like any request (host, path, method), and after the
 * 101 the relay checks that the client sends WebSocket frames, not HTTP. Every other token (h2c,
 * TLS, anything unknown, or several) would turn an allowed request into a connection past the
 * per-request policy, so it is refused with `upgrade-not-allowed`.
 */
export const judgeUpgrade = (context: PipelineContext, flow: HttpFlow, upgrade: string, target: string): Refusal | undefined => {
  if (upgrade.trim().toLowerCase() === 'websocket') return undefined;
  const rule = flow.decidingRule;
  const decision = deny('upgrade-not-allowed', rule, `Upgrade: ${upgrade.slice(0, 64)} is not allowed: only WebSocket upgrades are relayed`);
  const verdict = enforce(context, flow, decision, target);
  return verdict.pass ? undefined : verdict.refusal;
};
