/**
 * Field names of the JSON access-log line, one canonical record per finished flow.
 * Dashboards, alerts and tests key on these names: change one only with a migration note.
 */

/** When the flow finished: ISO 8601, UTC, milliseconds (start = time - duration_ms). */
export const FIELD_TIME = 'time';
export const FIELD_FLOW_ID = 'flow_id';
/** Tunnel flow id of a request made inside an intercepted tunnel. */
export const FIELD_PARENT_ID = 'parent_id';
export const FIELD_KIND = 'kind';
/** Client IP address. */
export const FIELD_CLIENT = 'client';
export const FIELD_CLIENT_PORT = 'client_port';
export const FIELD_LISTENER = 'listener';
export const FIELD_METHOD = 'method';
export const FIELD_URL = 'url';
export const FIELD_HOST = 'host';
export const FIELD_PORT = 'port';
export const FIELD_SNI = 'sni';
/** Transparent listeners: "ip:port" the client dialed before the firewall redirected it. */
export const FIELD_ORIGINAL_DST = 'original_destination';
export const FIELD_VERDICT = 'verdict';
export const FIELD_REASON = 'reason';
export const FIELD_RULE = 'rule';
export const FIELD_DETAIL = 'detail';
export const FIELD_WOULD_DENY = 'would_deny';
/** A denial that a rule in `mode: report` would have allowed: that rule's name. */
export const FIELD_WOULD_ALLOW = 'would_allow';
export const FIELD_STATUS = 'status';
export const FIELD_BYTES_UP = 'bytes_up';
export const FIELD_BYTES_DOWN = 'bytes_down';
export const FIELD_DURATION_MS = 'duration_ms';
/** "ip:port" actually dialed. */
export const FIELD_UPSTREAM = 'upstream';
export const FIELD_TUNNEL_MODE = 'tunnel_mode';
/** PCL_ERR_... code when the flow failed. */
export const FIELD_ERROR = 'error';
export const FIELD_USER = 'user';
/** DNS queries (kind "dns"): udp or tcp. */
export const FIELD_DNS_TRANSPORT = 'dns_transport';
/** DNS queries: the response code sent (NOERROR, NXDOMAIN, REFUSED, ...). */
export const FIELD_DNS_RCODE = 'dns_rcode';
/** DNS queries: what was answered, comma-separated (addresses, or HTTPS/SVCB records). */
export const FIELD_DNS_ANSWERS = 'dns_answers';

/** Every field, in the order they appear in a JSON line. */
export const ACCESS_LOG_FIELDS = [
  FIELD_TIME,
  FIELD_FLOW_ID,
  FIELD_PARENT_ID,
  FIELD_KIND,
  FIELD_CLIENT,
  FIELD_CLIENT_PORT,
  FIELD_LISTENER,
  FIELD_METHOD,
  FIELD_URL,
  FIELD_HOST,
  FIELD_PORT,
  FIELD_SNI,
  FIELD_ORIGINAL_DST,
  FIELD_VERDICT,
  FIELD_REASON,
  FIELD_RULE,
  FIELD_DETAIL,
  FIELD_WOULD_DENY,
  FIELD_WOULD_ALLOW,
  FIELD_STATUS,
  FIELD_BYTES_UP,
  FIELD_BYTES_DOWN,
  FIELD_DURATION_MS,
  FIELD_UPSTREAM,
  FIELD_TUNNEL_MODE,
  FIELD_ERROR,
  FIELD_USER,
  FIELD_DNS_TRANSPORT,
  FIELD_DNS_RCODE,
  FIELD_DNS_ANSWERS,
] as const;

export type AccessLogField = (typeof ACCESS_LOG_FIELDS)[number];
