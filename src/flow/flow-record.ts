/** One header as sent, name and value; secret values are already redacted (see redactHeaders). */
export type HeaderPair = readonly [name: string, value: string];

/** The client's TLS, as Portcullis saw it (intercepted tunnels and the requests inside them). */
export interface FlowTls {
  /** 'minted': decrypted with a certificate Portcullis minted for the host. */
  readonly certificate: 'minted';
  readonly sni?: string;
  /** Negotiated protocol version, e.g. "TLSv1.3". */
  readonly version?: string;
  /** Negotiated cipher suite (OpenSSL name). */
  readonly cipher?: string;
  /** Negotiated ALPN protocol ("h2", "http/1.1"). */
  readonly alpn?: string;
}

/** Points in time (epoch ms) within a flow, beyond its start and end. */
export interface FlowTimings {
  /** The upstream connection was established (spliced tunnels). */
  readonly upstreamConnectedAt?: number;
  /** The upstream's response headers arrived (HTTP). */
  readonly responseStartedAt?: number;
}

/** A DNS query the DNS listener answered (kind 'dns'). */
export interface FlowDns {
  readonly transport: 'udp' | 'tcp';
  /** The response code sent: NOERROR, NXDOMAIN, REFUSED, SERVFAIL, FORMERR, NOTIMP; "-" when nothing was sent. */
  readonly rcode: string;
  /** The addresses (A/AAAA) or records (HTTPS/SVCB, in presentation form) answered. */
  readonly answers: readonly string[];
}

/**
 * The finished-flow record: what the access log, the dashboard and metrics see of one
 * request or tunnel. Built by the proxy when a flow ends (also on errors and aborts).
 */
export interface FlowRecord {
  /** Unique id of this flow. */
  readonly id: string;
  /** For a request inside an intercepted tunnel: the tunnel's flow id. */
  readonly parentId?: string;
  /** 'http' for one HTTP request, 'tunnel' for a CONNECT (or transparent TLS) connection, 'dns' for one DNS query. */
  readonly kind: 'http' | 'tunnel' | 'dns';
  /** Epoch milliseconds when the flow started. */
  readonly startedAt: number;
  /** Milliseconds from start to end. */
  readonly durationMs: number;
  /** Client peer address and port. */
  readonly client: { readonly address: string; readonly port: number };
  /** Listener address the client connected to, e.g. "127.0.0.1:3128". */
  readonly listener: string;
  /** Request method; "CONNECT" for tunnels; the query type (A, AAAA, HTTPS, ...) for DNS. */
  readonly method: string;
  /** Absolute URL for HTTP flows, "host:port" authority for tunnels, the queried name for DNS; "-" when unparseable. */
  readonly url: string;
  /** Canonical destination host, or the raw text when it could not be parsed. */
  readonly host: string;
  /** Destination port (0 when unknown). */
  readonly port: number;
  /** TLS SNI the client sent, when known. */
  readonly sni?: string;
  /** Transparent listeners: "ip:port" the client dialed before the REDIRECT (SO_ORIGINAL_DST), when known. */
  readonly originalDestination?: string;
  /** What happened: allow or deny. In dry-run mode a would-be denial is 'allow' with wouldDeny set. */
  readonly verdict: 'allow' | 'deny';
  /** Stable reason code ('rule-matched', 'no-rule-matched', 'address-blocked', ...). */
  readonly reason: string;
  /** Name of the rule that decided, when one did. */
  readonly rule?: string;
  /** Human detail of the decision or error. */
  readonly detail?: string;
  /** Dry run: the policy would have denied this flow for `reason`. */
  readonly wouldDeny?: boolean;
  /** A denial that a rule in `mode: report` would have allowed: that rule's name (it was not enforced). */
  readonly wouldAllow?: string;
  /** Status sent to the client (200 for an established tunnel, 0 when none was sent). */
  readonly status: number;
  /** Bytes from the client toward the upstream (request body or tunnel bytes). */
  readonly bytesUp: number;
  /** Bytes from the upstream toward the client (response body or tunnel bytes). */
  readonly bytesDown: number;
  /**
   * Bytes sent to the client besides the body: the response head (status line and headers), and
   * over HTTP/1.1 the chunk framing of a chunked body; for a tunnel the "200 Connection
   * Established" head. Squid's log counts them in the reply size. Absent when unknown (HTTP/2).
   */
  readonly responseHeadBytes?: number;
  /** "ip:port" of the upstream actually dialed. */
  readonly upstreamAddress?: string;
  /** Tunnel handling: spliced (not decrypted) or intercepted. */
  readonly tunnelMode?: 'splice' | 'intercept';
  /** Error code (PCL_ERR_...) when the flow failed. */
  readonly errorCode?: string;
  /** Response Content-Type, when known (for Squid's log format). */
  readonly contentType?: string;
  /** Authenticated proxy user, when any. */
  readonly user?: string;
  /** Request headers as the client sent them (bounded; secrets redacted). */
  readonly requestHeaders?: readonly HeaderPair[];
  /** Response headers as sent to the client (bounded; secrets redacted). */
  readonly responseHeaders?: readonly HeaderPair[];
  /** Client-side TLS facts, when the proxy terminated the client's TLS. */
  readonly tls?: FlowTls;
  readonly timings?: FlowTimings;
  /** DNS queries: the transport, the response code and what was answered. */
  readonly dns?: FlowDns;
}
