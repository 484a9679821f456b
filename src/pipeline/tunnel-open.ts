import { formatAuthority, type Destination } from '../flow/destination.js';
import { joinListenAddress } from '../net/listen-address.js';
import type { AllowDecision, Decision } from '../policy/decision.js';
import { addonFlowView } from './addon-views.js';
import { checkTunnelHello } from './check-hello.js';
import { enforce, type Verdict } from './decide.js';
import type { UpstreamLink } from './dialing.js';
import { refuseByPolicy, refuseFailure } from './refusal.js';
import type { HelloPeek, Stages } from './tunnel-pipeline.js';

/**
 * What happens once a tunnel is allowed: decrypt it (rules that need the requests), splice it
 * (whole-host rules), or, when the client speaks plain HTTP inside, judge each request.
 */

/** Decrypts a tunnel whose ClientHello was already read (transparent TLS). */
export const interceptNow = <L extends UpstreamLink>(stages: Stages<L>, destination: Destination, decision: AllowDecision, buffered: Buffer): void => {
  const { flow, client } = stages;
  // A rule allows every request to this host (the tunnel could have been spliced), so the
  // origin's TLS handshake may overlap the client's; with paths or methods only, the origin
  // hears nothing until a request is allowed.
  if (decision.wholeHost) stages.deps().prewarm(destination, decision.rule);
  flow.intercepted();
  flow.answered(200);
  client.intercept({ flow, destination, scheme: 'https' }, buffered);
};

/**
 * The start of an HTTP/1.x request line: an upper-case method and a space. Other bytes that are
 * not TLS are for missing_sni to judge (with `allow`, a tunnel may carry any protocol).
 */
export const looksLikeHttp = (bytes: Buffer): boolean => /^[A-Z][A-Z-]{1,19} [!-~]/.test(bytes.toString('latin1', 0, 32));

/** Plain HTTP inside a CONNECT (undici's ProxyAgent for http:// URLs): every request is judged like a forward request. */
const serveInTunnel = <L extends UpstreamLink>(stages: Stages<L>, destination: Destination, buffered: Buffer): void => {
  const { flow, client } = stages;
  flow.intercepted();
  flow.noted('plain HTTP inside the tunnel: each request is judged by the policy');
  client.serveHttp({ flow, destination, scheme: 'http' }, buffered);
};

/** The client left, or sent nothing in time: the tunnel ends without reaching anyone. */
const ended = <L extends UpstreamLink>(stages: Stages<L>, hello: HelloPeek): boolean => {
  const { flow, client } = stages;
  if (hello.result.status !== 'closed' && hello.result.status !== 'timeout' && !client.gone()) return false;
  if (hello.result.status === 'timeout') flow.refused('sni-missing', 'no ClientHello or request arrived in time');
  else flow.clientLeft();
  // Half-open sockets are allowed, so a client that left must be closed explicitly.
  client.close();
  stages.finish();
  return true;
};

/**
 * A CONNECT that will be decrypted, or that only plain HTTP may use: the 200 goes out at once,
 * and the first bytes the client sends decide. TLS is decrypted (or, on a plain-HTTP-only
 * tunnel, refused with the TLS decision); plain HTTP is served request by request.
 */
export const openThenRead = <L extends UpstreamLink>(stages: Stages<L>, destination: Destination, decided: Verdict & { pass: true }): void => {
  const { context, client, flow } = stages;
  const { decision, plainOnly } = decided;
  if (decision.verdict === 'allow' && decision.wholeHost && decision.intercept) stages.deps().prewarm(destination, decision.rule);
  flow.answered(200);
  flow.responseHeadSent(client.established());
  client.hello().then((hello) => {
    if (ended(stages, hello)) return;
    if (hello.result.status === 'not-tls') {
      serveInTunnel(stages, destination, hello.buffered);
      return;
    }
    if (hello.result.status === 'ok' && hello.result.sni !== undefined) flow.sawSni(hello.result.sni);
    if (plainOnly !== undefined) {
      const target = client.connect?.authority ?? formatAuthority(destination);
      const verdict = enforce(context, flow, plainOnly, target);
      if (!verdict.pass) {
        stages.turnAway(refuseByPolicy(target, plainOnly));
        return;
      }
      // A dry run lets it through: as the TLS decision would have, untouched.
      splice(stages, destination, { pass: true, decision: plainOnly }, hello);
      return;
    }
    flow.intercepted();
    client.intercept({ flow, destination, scheme: 'https' }, hello.buffered);
  }).catch(stages.fail);
};

/** The addons' clientHello hooks on a spliced tunnel; true when they refused it (the client was turned away). */
const clientHelloHook = async <L extends UpstreamLink>(
  stages: Stages<L>, destination: Destination, hello: HelloPeek, decision: Decision, target: string,
): Promise<boolean> => {
  const { addons } = stages.context.state();
  if (!addons.has('clientHello') || hello.result.status !== 'ok') return false;
  const { result } = hello;
  const outcome = await addons.decide({
    hook: 'clientHello', flow: addonFlowView(stages.flow, 'tunnel', destination, decision),
    hello: { ...(result.sni !== undefined ? { sni: result.sni } : {}), alpn: result.alpn, ech: result.ech },
  }, decision);
  if (outcome.decision.verdict === 'allow' || outcome.decision === decision) return false;
  const verdict = enforce(stages.context, stages.flow, outcome.decision, target);
  if (verdict.pass) return false;
  stages.turnAway(verdict.refusal);
  return true;
};

/**
 * Resolves once and checks the addresses (unless the decision already did), dials a checked
 * one, confirms the tunnel, and relays the untouched bytes only when the ClientHello names the
 * destination. The origin sees a TCP connection at most, never a byte, for a refused hello.
 */
export const splice = <L extends UpstreamLink>(
  stages: Stages<L>, destination: Destination, decided: Verdict & { pass: true }, knownHello: HelloPeek | undefined,
): void => {
  const pinned = decided.checked;
  const allowEch = decided.decision.verdict === 'allow' && decided.decision.allowEch;
  const { context, client, flow } = stages;
  const dialer = stages.deps().dialerFor(destination, flow.decidingRule);
  const abort = new AbortController();
  const unsubscribe = client.onGone(() => abort.abort());
  const target = client.connect?.authority ?? formatAuthority(destination);
  flow.spliced();
  const dialed = (pinned ? Promise.resolve(pinned) : dialer.check(destination)).then((checked) => dialer.connect(checked, { signal: abort.signal }));
  dialed.then(async (upstream) => {
    unsubscribe();
    flow.connectedTo(joinListenAddress(upstream.address, destination.port), context.clock.now());
    if (client.gone()) {
      upstream.socket.destroy();
      flow.clientLeft();
      stages.finish();
      return;
    }
    if (flow.answeredStatus === 0) {
      flow.answered(200);
      flow.responseHeadSent(client.established());
    }
    const hello = knownHello ?? await client.hello();
    if (knownHello === undefined) {
      if (hello.result.status === 'not-tls' && looksLikeHttp(hello.buffered)) {
        // Plain HTTP after all: each request goes through the pools, judged in full.
        upstream.socket.destroy();
        serveInTunnel(stages, destination, hello.buffered);
        return;
      }
      if (hello.result.status === 'ok' && hello.result.sni !== undefined) flow.sawSni(hello.result.sni);
      const check = checkTunnelHello(hello.result, destination, context.state().config.missing_sni, flow.decidingRule, allowEch);
      if (!check.ok) {
        const verdict = enforce(context, flow, check.decision, target);
        if (!verdict.pass) {
          upstream.socket.destroy();
          stages.turnAway(refuseByPolicy(target, check.decision, check.alert ?? null));
          return;
        }
      } else if (check.note !== undefined) {
        flow.noted(check.note);
      }
    }
    if (hello.result.status === 'closed' || client.gone()) {
      upstream.socket.destroy();
      client.close();
      flow.clientLeft();
      stages.finish();
      return;
    }
    const refusedByAddon = await clientHelloHook(stages, destination, hello, decided.decision, target);
    if (refusedByAddon) {
      upstream.socket.destroy();
      return;
    }
    const bytes = await client.splice(upstream, hello.buffered);
    flow.transferred(bytes.up, bytes.down);
    stages.finish();
  }, (error: unknown) => {
    unsubscribe();
    const refusal = refuseFailure(flow, target, error);
    if (refusal === undefined) {
      stages.finish();
      return;
    }
    stages.turnAway(refusal);
  }).catch(stages.fail);
};
