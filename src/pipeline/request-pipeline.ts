import { redactHeaders } from '../flow/redact-headers.js';
import { formatOriginalDestination } from '../flow/original-destination.js';
import type { Destination } from '../flow/destination.js';
import { caDownload } from '../http/ca-download.js';
import { errorResponse, type SyntheticResponse } from '../http/deny-response.js';
import { helpPage } from '../http/help-page.js';
import { authenticate, type Credentials } from './authenticate.js';
import { whenReady, type PipelineContext } from './context.js';
import { decideRequest, enforce, type Verdict } from './decide.js';
import type { CheckedDestination } from './dialing.js';
import { HttpFlow, type FlowOrigin } from './flow.js';
import { identifyRequest, originOf, type Identification, type RequestHead, type RequestSource } from './identify-request.js';
import { judgeControls } from './judge-controls.js';
import { addonFlowView, addonRequestView } from './addon-views.js';
import { deny, type Decision } from '../policy/decision.js';
import { normalizePath } from '../policy/path-normalizer.js';
import type { AddonOutcome } from '../addons/addon-host.js';
import type { AddonResponse } from '../addons/addon-api.js';
import { judgeUpgrade } from './judge-upgrade.js';
import { pathWithCredentials, type RuleControls } from './request-controls.js';
import { refuseMalformed, type Refusal } from './refusal.js';
import { validateRequestHead } from '../flow/validate-request-head.js';
import { dohRequestEvidence } from '../policy/doh.js';

/** An allowed request, ready to be sent upstream. */
export interface ForwardRoute {
  readonly flow: HttpFlow;
  readonly destination: Destination;
  readonly scheme: 'http' | 'https';
  readonly pathAndQuery: string;
  /** The full URL, for error bodies. */
  readonly url: string;
  /** Set when the decision pinned the addresses to dial (transparent verification). */
  readonly checked?: CheckedDestination;
  /** Header rules, credentials and the body budget of the rule that allowed it. */
  readonly controls: RuleControls;
  /** The rule's credentials go into this request. */
  readonly inject: boolean;
  /** The request headers as requestHeaders hooks left them, when an addon has that hook. */
  readonly addonHeaders?: Readonly<Record<string, string>>;
}

/**
 * One request as a listener received it: the head, where it came from, and how to answer it.
 * The I/O behind it (node:http, node:http2, an upgrade's raw socket) is the listener's; the
 * pipeline's unit tests use a fake.
 */
export interface RequestExchange {
  readonly head: RequestHead;
  readonly source: RequestSource;
  /** Who connected to which listener (a tunnel's requests take the tunnel's client). */
  readonly connection: Omit<FlowOrigin, 'id' | 'startedAt'>;
  /** What the client presented, on listeners that authenticate (explicit); undefined elsewhere. */
  readonly credentials: Credentials | undefined;
  /** The `Upgrade` header of an upgrade request (Connection: upgrade); undefined for an ordinary request. */
  readonly upgrade: string | undefined;
  /** Called once with the flow, before any stage: the exchange finishes it when the client's response closes. */
  begin(flow: HttpFlow): void;
  /** Sends an answer made by the proxy (an upgrade request's connection is closed after it). */
  answer(flow: HttpFlow, response: SyntheticResponse): void;
  /** Streams the allowed request upstream and the answer back (or relays the upgrade). */
  forward(route: ForwardRoute): void;
}

/** More header fields than limits.max_headers: refused with 431 before anything else. */
const headerCountRefusal = (context: PipelineContext, head: RequestHead): { refusal: Refusal; detail: string } | undefined => {
  const max = context.state().config.limits.max_headers;
  const count = head.rawHeaders.length / 2;
  if (count <= max) return undefined;
  const detail = `${count} header fields, more than limits.max_headers (${max})`;
  return { detail, refusal: { response: errorResponse(431, 'http_request_header_section_size', 'headers-too-large', detail) } };
};

const openFlow = (context: PipelineContext, exchange: RequestExchange): HttpFlow => {
  const { head, source } = exchange;
  const { client: peer, listener } = exchange.connection;
  const origin = { client: peer, listener, id: context.nextFlowId(), startedAt: context.clock.now() };
  const sink = (record: Parameters<PipelineContext['recordFlow']>[0]): void => context.recordFlow(record);
  if (source.kind !== 'tunnel') {
    const flow = new HttpFlow(origin, head.method, head.target, sink);
    flow.requestHeaders(redactHeaders(head.rawHeaders));
    if (source.kind === 'transparent-http' && source.original) flow.redirectedFrom(formatOriginalDestination(source.original));
    return flow;
  }
  const { tunnel } = source;
  const url = `${originOf(tunnel.scheme, tunnel.destination)}${head.target.startsWith('/') ? head.target : ''}`;
  const flow = new HttpFlow(origin, head.method, url, sink, tunnel.flow);
  flow.requestHeaders(redactHeaders(head.rawHeaders));
  flow.identified(tunnel.destination, url);
  return flow;
};

/**
 * The request pipeline every listener feeds: open flow -> limits -> authenticate -> identify
 * (the one listener-specific step) -> decide (policy, original-destination verification, dry
 * run) -> upgrade check -> forward | answer. The flow is recorded when the exchange closes.
 */
export const runRequest = (context: PipelineContext, exchange: RequestExchange): void => {
  const flow = openFlow(context, exchange);
  exchange.begin(flow);
  const refuse = (refusal: Refusal): void => exchange.answer(flow, refusal.response);
  const fail = (error: unknown): void => {
    context.logger.error({ err: error, url: exchange.head.target }, 'request pipeline failed');
    flow.failed({ code: 'PCL_ERR_INTERNAL', message: String((error as Error | undefined)?.message ?? error) });
    exchange.answer(flow, errorResponse(500, 'proxy_internal_error', 'internal-error', 'the proxy failed to handle this request'));
  };
  try {
    const tooMany = headerCountRefusal(context, exchange.head);
    if (tooMany) {
      flow.refused('headers-too-large', tooMany.detail);
      refuse(tooMany.refusal);
      return;
    }
    // Framing two parsers could read differently never goes upstream. Several Host fields are
    // left to the identify stage, which names them host-mismatch as each listener does.
    const { head } = exchange;
    const framing = validateRequestHead({ httpVersion: `${head.httpVersionMajor}.${head.httpVersionMinor}`, rawHeaders: head.rawHeaders });
    if (!framing.ok && framing.reason === 'malformed-request') {
      flow.refused('malformed-request', framing.detail);
      refuse(refuseMalformed('malformed-request', framing.detail));
      return;
    }
    if (exchange.credentials === undefined) {
      route(context, exchange, flow, exchange.source.kind === 'tunnel' ? flow.user : undefined, fail);
      return;
    }
    whenReady(authenticate(context, flow, exchange.credentials), (auth) => {
      if (auth.ok) route(context, exchange, flow, auth.user, fail);
      else refuse(auth.refusal);
    }, fail);
  } catch (error) {
    fail(error);
  }
};

const withDohEvidence = (evidence: string | undefined): { dohEvidence?: string } => (evidence === undefined ? {} : { dohEvidence: evidence });

/** Identify, decide, then forward or answer. */
const route = (
  context: PipelineContext, exchange: RequestExchange, flow: HttpFlow, user: string | undefined, fail: (error: unknown) => void,
): void => {
  const identified = identifyRequest(exchange.head, exchange.source);
  if (identified.kind !== 'target') {
    answerDirectly(context, exchange, flow, identified);
    return;
  }
  flow.identified(identified.destination, identified.url);
  const { source } = exchange;
  const { addons } = context.state();
  // The request as requestHeaders hooks see (and may change) it; undefined when no addon has the hook.
  const addonRequest = addons.has('requestHeaders')
    ? addonRequestView(exchange.head.method, identified.url, identified.pathAndQuery, exchange.head.rawHeaders) : undefined;
  const verdict = identified.mismatch !== undefined
    ? enforce(context, flow, identified.mismatch, identified.url)
    : decideRequest(context, {
      flow, destination: identified.destination, user, target: identified.url,
      // An https:// URL sent in plain text is fetched over TLS by the proxy: the whole URL is
      // visible, so it is judged as a request inside TLS (default port 443).
      transport: identified.scheme === 'https' ? 'tls' : 'http',
      method: exchange.head.method, pathAndQuery: identified.pathAndQuery,
      ...(addonRequest ? {
        addons: (decision: Decision) => whenDecided(addons.decide({
          hook: 'requestHeaders', flow: { ...addonFlowView(flow, 'http', identified.destination, decision), request: addonRequest },
        }, decision), (outcome) => unambiguous(outcome, decision, identified.pathAndQuery)),
      } : {}),
      ...withDohEvidence(dohRequestEvidence(identified.pathAndQuery, exchange.head.rawHeaders)),
      ...(source.kind === 'transparent-http'
        ? { redirect: { verify: context.state().config.transparent.verify_original_destination, original: source.original } }
        : {}),
    });
  whenReady(verdict, (decided: Verdict) => {
    if (!decided.pass) {
      exchange.answer(flow, decided.refusal.response);
      return;
    }
    if (decided.respond) {
      flow.servedLocally('addon-response');
      exchange.answer(flow, addonAnswer(decided.respond));
      return;
    }
    if (exchange.upgrade !== undefined) {
      const refusal = judgeUpgrade(context, flow, exchange.upgrade, identified.url);
      if (refusal) {
        exchange.answer(flow, refusal.response);
        return;
      }
    }
    const judged = judgeControls(context, flow, exchange.head, source, decided.decision, identified.url);
    if (judged.refusal) {
      exchange.answer(flow, judged.refusal.response);
      return;
    }
    exchange.forward({
      flow, destination: identified.destination, scheme: identified.scheme, url: identified.url,
      pathAndQuery: judged.inject ? pathWithCredentials(identified.pathAndQuery, judged.controls) : identified.pathAndQuery,
      controls: judged.controls, inject: judged.inject,
      ...(addonRequest ? { addonHeaders: addonRequest.headers } : {}),
      ...(decided.checked ? { checked: decided.checked } : {}),
    });
  }, fail);
};

const whenDecided = <T, R>(value: T | Promise<T>, next: (value: T) => R): R | Promise<R> =>
  value instanceof Promise ? value.then(next) : next(value);

/**
 * An addon may allow what no rule does, but never a path two readers could take for different
 * ones: the same normalization that guards `paths` rules guards what an addon lets through.
 */
const unambiguous = (outcome: AddonOutcome, policy: Decision, pathAndQuery: string): AddonOutcome => {
  if (outcome.decision.verdict !== 'allow' || policy.verdict === 'allow') return outcome;
  const normalized = normalizePath(pathAndQuery);
  return normalized.ok ? outcome : { decision: deny('ambiguous-path', outcome.decision.rule, normalized.error) };
};

/** An answer an addon made (requestHeaders); its status kept to a real HTTP status. */
const addonAnswer = (respond: AddonResponse['respond']): SyntheticResponse => {
  const status = Number.isInteger(respond.status) && respond.status >= 200 && respond.status <= 599 ? respond.status : 500;
  return { status, headers: { 'content-type': 'text/plain; charset=utf-8', ...(respond.headers ?? {}) }, body: respond.body ?? '' };
};

/** Requests the proxy answers itself, and requests refused before any policy question. */
const answerDirectly = (
  context: PipelineContext, exchange: RequestExchange, flow: HttpFlow, identified: Exclude<Identification, { kind: 'target' }>,
): void => {
  if (identified.kind === 'refused') {
    flow.refused(identified.reason, identified.detail);
    exchange.answer(flow, identified.refusal.response);
    return;
  }
  if (identified.answer === 'ca') {
    flow.servedLocally('ca-download');
    exchange.answer(flow, caDownload(identified.pathAndQuery, context.caForDownload()));
    return;
  }
  flow.refused('not-a-proxy-request');
  exchange.answer(flow, helpPage(exchange.connection.listener));
};
