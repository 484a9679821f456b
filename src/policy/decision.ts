/** Stable reason codes: the log, the 403 body, Proxy-Status, metrics and tests all use them. */
export type DenyReason =
  | 'no-rule-matched'
  | 'port-not-allowed'
  | 'client-not-allowed'
  | 'method-not-allowed'
  | 'path-not-allowed'
  | 'ambiguous-path'
  | 'address-blocked'
  | 'sni-mismatch'
  | 'sni-missing'
  | 'host-mismatch'
  | 'invalid-destination'
  | 'userinfo-in-url'
  | 'ip-literal-not-allowed'
  | 'addon-denied'
  | 'addon-failed'
  /** An Upgrade (h2c, WebSocket, other) that would escape per-request policy. */
  | 'upgrade-not-allowed'
  /** A spliced tunnel's ClientHello carries Encrypted Client Hello: its SNI is only a public name. */
  | 'ech-present'
  /** A credential stand-in (rules[].inject[].replace) sent anywhere but where its rule injects the secret. */
  | 'credential-misdirected'
  /** A request body beyond the rule's max_request_bytes (413). */
  | 'body-too-large'
  /** More requests from this client than the rule's rate (429 with Retry-After). */
  | 'rate-limited'
  /** DNS over HTTPS (a well-known resolver, or a DNS media type) that no rule names exactly. */
  | 'doh-blocked'
  /** A DNS query for a name no rule could allow (the DNS listener). */
  | 'dns-name-not-allowed'
  /** A DNS question of a type the DNS listener does not answer (TXT, MX, ANY, ...; HTTPS/SVCB with https_records: refuse). */
  | 'dns-type-not-allowed'
  /** A DNS query for an allowed name that looks like data leaving in labels: too long, too random, too many. */
  | 'dns-exfiltration-suspected';

export type AllowDecision = {
  readonly verdict: 'allow';
  readonly reason: 'rule-matched';
  /** Name of the rule that allowed. */
  readonly rule: string;
  /** CONNECT/SNI stage only: true when some matching rule needs the requests (paths, methods, inspect). */
  readonly intercept: boolean;
  /**
   * CONNECT/SNI stage only: true when some matching rule has neither paths nor methods, so it
   * allows every request to this host and port (for this client and user). Such a tunnel could
   * have been spliced, so talking to the origin before a request arrives reveals nothing new.
   */
  readonly wholeHost: boolean;
  /**
   * CONNECT/SNI stage only: true when some matching rule says `ech: allow`, so a spliced tunnel
   * may carry an Encrypted Client Hello (whose real server name the proxy cannot see).
   */
  readonly allowEch: boolean;
};

export type DenyDecision = {
  readonly verdict: 'deny';
  readonly reason: DenyReason;
  /** Name of the closest rule when one explains the denial (e.g. host matched, path did not). */
  readonly rule?: string;
  /** Human detail for logs and the 403 body. */
  readonly detail?: string;
  /** A rule in `mode: report` that would have allowed this (the first in config order); it was not enforced. */
  readonly wouldAllow?: string;
  /** rate-limited: seconds until the client may try again (Retry-After). */
  readonly retryAfter?: number;
};

export type Decision = AllowDecision | DenyDecision;

export const allow = (rule: string, intercept = false, wholeHost = false, allowEch = false): AllowDecision => ({
  verdict: 'allow',
  reason: 'rule-matched',
  rule,
  intercept,
  wholeHost,
  allowEch,
});

export const deny = (reason: DenyReason, rule?: string, detail?: string): DenyDecision => {
  const decision: { verdict: 'deny'; reason: DenyReason; rule?: string; detail?: string } = {
    verdict: 'deny',
    reason,
  };
  if (rule !== undefined) decision.rule = rule;
  if (detail !== undefined) decision.detail = detail;
  return decision;
};
