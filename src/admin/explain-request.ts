import { parseAbsoluteTarget } from '../flow/destination.js';
import { parseHost } from '../flow/host.js';
import type { CompiledPolicy } from '../policy/policy-engine.js';
import type { ExplainResult, ExplainStage } from './api-types.js';

export type { ExplainResult, ExplainStage } from './api-types.js';

export interface ExplainInput {
  readonly method: string;
  readonly url: string;
  /** Client IP address the request would come from. */
  readonly client: string;
  /** TLS SNI the client would send (https only). */
  readonly sni?: string;
}

const METHOD = /^[A-Za-z!#$%&'*+.^_`|~-]+$/;

/**
 * The decision the policy would make for one request, without any network: what
 * `portcullis explain` prints and the dashboard's explain box shows. For https URLs both
 * stages are given: the tunnel and, when the host is intercepted, the request inside it.
 */
export const explainRequest = (policy: CompiledPolicy, dryRun: boolean, input: ExplainInput): ExplainResult => {
  if (!METHOD.test(input.method)) return { ok: false, error: `"${input.method}" is not an HTTP method` };
  const client = parseHost(input.client);
  if (!client.ok || client.value.kind !== 'ip') return { ok: false, error: `client must be an IP address, got "${input.client}"` };
  const target = parseAbsoluteTarget(input.url.trim());
  if (!target.ok) return { ok: false, error: `${target.reason}: ${target.error}` };
  const { destination, scheme, pathAndQuery } = target.value;
  const facts = { destination, clientIp: client.value.host, transport: scheme === 'https' ? 'tls' as const : 'http' as const };
  const stages: ExplainStage[] = [];
  const result = (spliced: boolean): ExplainResult => {
    const decision = (stages.find((stage) => stage.decision.verdict === 'deny') ?? stages[stages.length - 1] as ExplainStage).decision;
    return { ok: true, verdict: decision.verdict, decision, stages, spliced, dryRun };
  };
  if (scheme === 'https') {
    if (input.sni !== undefined && input.sni !== '') {
      const sni = parseHost(input.sni);
      if (!sni.ok || sni.value.host !== destination.host.host) {
        stages.push({ stage: 'tunnel', decision: { verdict: 'deny', reason: 'sni-mismatch', detail: `SNI "${input.sni}" does not name ${destination.host.host}` } });
        return result(false);
      }
    }
    const tunnel = policy.decideConnection(facts);
    stages.push({ stage: 'tunnel', decision: tunnel });
    if (tunnel.verdict === 'deny') return result(false);
    if (!tunnel.intercept) return result(true);
  }
  stages.push({ stage: 'request', decision: policy.decideRequest({ ...facts, method: input.method, pathAndQuery }) });
  return result(false);
};
