import { parseAbsoluteTarget, parseAuthority, type Destination } from '../flow/destination.js';

/**
 * One access-log line as `learn`, `replay` and `check --lint` read it, whichever format it came
 * from (Portcullis json, Squid's native layout, or a live flow record).
 */
export interface LoggedRequest {
  /** Where it came from, for messages: "access.log:12", "flow 5ebc8bb7-3". */
  readonly source: string;
  readonly format: 'json' | 'squid' | 'flow';
  /** flow_id, when the format has one. */
  readonly id?: string;
  /** 'tunnel': a CONNECT (or transparent TLS) line; 'http': one request. */
  readonly kind: 'http' | 'tunnel';
  readonly method: string;
  /** The URL (or host:port for a tunnel) as logged. */
  readonly url: string;
  /** Client IP address. */
  readonly client: string;
  readonly user?: string;
  /** The destination as the policy sees it; undefined when the logged target does not parse. */
  readonly target?: LoggedTarget;
  /** Why the target does not parse (the reason the proxy gives such a request). */
  readonly targetProblem?: { readonly reason: 'invalid-destination' | 'userinfo-in-url'; readonly error: string };
  /** What happened: allow or deny. A dry-run would-deny was let through, so it is 'allow'. */
  readonly verdict: 'allow' | 'deny';
  /** Reason code, when the format has one (json, flows; Squid lines only for a few outcomes). */
  readonly reason?: string;
  /** The rule that allowed, or the closest rule behind a denial. */
  readonly rule?: string;
  /** Dry run: the policy in force would have denied it for `reason`. */
  readonly wouldDeny: boolean;
  readonly wouldAllow?: string;
  /** Tunnels: spliced or intercepted, when the format says (json, flows). */
  readonly tunnelMode?: 'splice' | 'intercept';
  readonly status: number;
  /** PCL_ERR_... code of a failed flow. */
  readonly error?: string;
  readonly sni?: string;
  /** Epoch ms when the flow ended (0 when unknown). */
  readonly time: number;
}

export interface LoggedTarget {
  readonly destination: Destination;
  /** 'http': a plain-HTTP request; 'tls': a tunnel, or a request inside an intercepted one. */
  readonly transport: 'http' | 'tls';
  /** Requests only: path and query as logged. */
  readonly pathAndQuery?: string;
  /** Requests only: an https:// URL, i.e. seen inside an intercepted tunnel. */
  readonly intercepted: boolean;
}

export type TargetResult =
  | { readonly ok: true; readonly target: LoggedTarget }
  | { readonly ok: false; readonly reason: 'invalid-destination' | 'userinfo-in-url'; readonly error: string };

/** Parses what a log line names as its target: "host:port" for a tunnel, an absolute URL for a request. */
export const parseLoggedTarget = (kind: 'http' | 'tunnel', url: string): TargetResult => {
  if (kind === 'tunnel') {
    const authority = parseAuthority(url.replace(/^[a-z]+:\/\//i, '').replace(/\/$/, ''));
    if (!authority.ok) return { ok: false, reason: authority.reason, error: authority.error };
    return { ok: true, target: { destination: authority.value, transport: 'tls', intercepted: false } };
  }
  const absolute = parseAbsoluteTarget(url);
  if (!absolute.ok) return { ok: false, reason: absolute.reason, error: absolute.error };
  const { destination, scheme, pathAndQuery } = absolute.value;
  return {
    ok: true,
    target: { destination, transport: scheme === 'https' ? 'tls' : 'http', pathAndQuery, intercepted: scheme === 'https' },
  };
};

/** The target fields of a LoggedRequest, from its kind and URL. */
export const targetFields = (kind: 'http' | 'tunnel', url: string): Pick<LoggedRequest, 'target' | 'targetProblem'> => {
  const parsed = parseLoggedTarget(kind, url);
  return parsed.ok ? { target: parsed.target } : { targetProblem: { reason: parsed.reason, error: parsed.error } };
};

/** "host:port" of a target, IPv6 bracketed. */
export const targetAuthority = (target: LoggedTarget): string => {
  const { host, port } = target.destination;
  return `${host.kind === 'ip' && host.family === 6 ? `[${host.host}]` : host.host}:${port}`;
};
