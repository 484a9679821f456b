import { parseHost, type CanonicalHost } from '../flow/host.js';
import { deny } from '../policy/decision.js';
import type { PipelineContext } from './context.js';
import { answerAddresses, answerServiceBindings, type Answered, type DnsRcode, type DnsReply, type ServiceRecordSource } from './dns-answers.js';
import { enforce } from './decide.js';
import type { ExfiltrationGuard } from './exfiltration-guard.js';
import { DnsFlow, type FlowOrigin } from './flow.js';

/** A DNS message as the listener decoded it: one question, or why it cannot be answered. */
export type DnsQuery =
  | { readonly ok: true; readonly name: string; readonly type: string }
  | {
    readonly ok: false;
    /** FORMERR for a message that is not a well-formed query, NOTIMP for an opcode or class we do not serve. */
    readonly rcode: 'FORMERR' | 'NOTIMP';
    readonly detail: string;
    /** False when no response may be sent (too short to carry an id, or itself a response). */
    readonly respond: boolean;
  };

/** One query on a DNS listener (UDP datagram or TCP message); the I/O is the listener's, unit tests fake it. */
export interface DnsExchange {
  readonly connection: Omit<FlowOrigin, 'id' | 'startedAt'>;
  readonly transport: 'udp' | 'tcp';
  readonly query: DnsQuery;
  respond(reply: DnsReply): void;
}

export interface DnsDeps {
  /** The proxy's exfiltration guard, shared by its DNS listeners. */
  readonly guard: ExfiltrationGuard;
  readonly serviceRecords: ServiceRecordSource;
}

const ADDRESS_TYPES = new Set(['A', 'AAAA']);
const SERVICE_TYPES = new Set(['HTTPS', 'SVCB']);

const describeAnswers = (reply: DnsReply): string[] =>
  reply.answers.map((answer) => ('address' in answer ? answer.address : '-'));

/**
 * The DNS pipeline: open flow -> identify (the queried name, canonical) -> decide (the policy's
 * decideName, dry run included) -> query type (A/AAAA answered, HTTPS/SVCB stripped or refused,
 * the rest refused) -> exfiltration guard -> answer from the proxy's resolver -> record. Every
 * query, answered or not, becomes one flow (access log, dashboard, metrics).
 */
export const runDnsQuery = (context: PipelineContext, exchange: DnsExchange, deps: DnsDeps): void => {
  const { query } = exchange;
  const { client: peer, listener } = exchange.connection;
  const origin = { client: peer, listener, id: context.nextFlowId(), startedAt: context.clock.now() };
  const flow = new DnsFlow(origin, query.ok ? query.type : '-', query.ok ? query.name : '-', exchange.transport, (record) => context.recordFlow(record));
  const send = (reply: DnsReply, answers: readonly string[] = describeAnswers(reply)): void => {
    flow.respondedWith(reply.rcode, answers);
    exchange.respond(reply);
    flow.finished(context.clock.now());
  };
  const refuse = (rcode: DnsRcode): void => send({ rcode, answers: [] });
  if (!query.ok) {
    flow.refused('malformed-request', query.detail);
    if (query.respond) refuse(query.rcode);
    else flow.finished(context.clock.now());
    return;
  }
  const state = context.state();
  const refuseWith: DnsRcode = state.config.dns.refuse_with === 'refused' ? 'REFUSED' : 'NXDOMAIN';
  const parsed = parseHost(query.name.replace(/\.$/, ''));
  if (!parsed.ok || parsed.value.kind !== 'name') {
    const detail = parsed.ok ? `${query.name} is an address, not a name` : `${JSON.stringify(query.name.slice(0, 80))} is not a host name: ${parsed.error}`;
    if (!enforce(context, flow, deny('dns-name-not-allowed', undefined, detail), query.name).pass) {
      refuse(refuseWith);
      return;
    }
    refuse('NXDOMAIN');
    return;
  }
  const name = parsed.value;
  flow.identified({ host: name, port: 0 }, name.host);
  const decision = state.policy.decideName({ name, clientIp: flow.client.address });
  if (!enforce(context, flow, decision, name.host).pass) {
    refuse(refuseWith);
    return;
  }
  const service = SERVICE_TYPES.has(query.type) && state.config.dns.https_records === 'strip-ech';
  if (!ADDRESS_TYPES.has(query.type) && !service) {
    const detail = SERVICE_TYPES.has(query.type)
      ? `${query.type} records are refused (dns.https_records: refuse)`
      : `only A, AAAA, HTTPS and SVCB questions are answered, not ${query.type}`;
    if (!enforce(context, flow, deny('dns-type-not-allowed', flow.decidingRule, detail), name.host).pass) {
      refuse('REFUSED');
      return;
    }
  }
  const guarded = deps.guard.admit(flow.client.address, name.host, context.clock.now(), state.config.dns.exfiltration);
  if (!guarded.ok && !enforce(context, flow, deny('dns-exfiltration-suspected', flow.decidingRule, guarded.detail), name.host).pass) {
    refuse(refuseWith);
    return;
  }
  answer(context, flow, name, query.type, deps).then(
    (answered) => send(answered.reply, answered.described),
    (error: unknown) => {
      context.logger.error({ err: error }, 'DNS pipeline failed');
      flow.failed({ code: 'PCL_ERR_INTERNAL', message: String((error as Error | undefined)?.message ?? error) });
      refuse('SERVFAIL');
    },
  );
};

/** Looks the name up and notes on the flow what the lookup found (blocked addresses, a failure, the upstream server). */
const answer = async (
  context: PipelineContext, flow: DnsFlow, name: CanonicalHost, type: string, deps: DnsDeps,
): Promise<Answered & { readonly described?: readonly string[] }> => {
  const state = context.state();
  if (!ADDRESS_TYPES.has(type) && !SERVICE_TYPES.has(type)) return { reply: { rcode: 'REFUSED', answers: [] } }; // a dry run's would-deny
  const answered = ADDRESS_TYPES.has(type)
    ? await answerAddresses(state, name, type as 'A' | 'AAAA')
    : await answerServiceBindings(state, name, type as 'HTTPS' | 'SVCB', deps.serviceRecords);
  if (answered.blocked !== undefined) flow.decided(deny('address-blocked', flow.decidingRule, answered.blocked));
  if (answered.failure !== undefined) flow.failed(answered.failure);
  if (answered.server !== undefined) flow.connectedTo(answered.server);
  return answered;
};
