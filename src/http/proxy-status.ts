import type { PortcullisErrorCode } from '../errors.js';

/** RFC 9209 error types used by Portcullis. */
export type ProxyErrorType =
  | 'http_request_denied'
  | 'destination_ip_prohibited'
  | 'destination_not_found'
  | 'dns_error'
  | 'connection_refused'
  | 'connection_timeout'
  | 'connection_terminated'
  | 'destination_unavailable'
  | 'http_response_timeout'
  | 'http_request_error'
  | 'http_upgrade_failed'
  | 'connection_limit_reached'
  | 'http_request_header_section_size'
  | 'tls_certificate_error'
  | 'tls_protocol_error'
  | 'proxy_internal_error';

const escapeSfString = (text: string): string =>
  text.replace(/[^\x20-\x7e]/g, '?').replace(/\\/g, '\\\\').replace(/"/g, '\\"');

/** `Proxy-Status: portcullis; error=http_request_denied; details="no-rule-matched ..."` */
export const formatProxyStatus = (error: ProxyErrorType, details: string): string =>
  `portcullis; error=${error}; details="${escapeSfString(details)}"`;

/** Status code and RFC 9209 type for an upstream failure. */
export const upstreamFailure = (code: PortcullisErrorCode): { status: number; type: ProxyErrorType } => {
  switch (code) {
    case 'PCL_ERR_DNS_FAILED': return { status: 502, type: 'dns_error' };
    case 'PCL_ERR_ADDRESS_BLOCKED': return { status: 403, type: 'destination_ip_prohibited' };
    case 'PCL_ERR_UPSTREAM_REFUSED': return { status: 502, type: 'connection_refused' };
    case 'PCL_ERR_UPSTREAM_TIMEOUT': return { status: 504, type: 'connection_timeout' };
    case 'PCL_ERR_UPSTREAM_RESPONSE_TIMEOUT': return { status: 504, type: 'http_response_timeout' };
    case 'PCL_ERR_UPSTREAM_RESET': return { status: 502, type: 'connection_terminated' };
    case 'PCL_ERR_UPSTREAM_TLS': return { status: 502, type: 'tls_certificate_error' };
    case 'PCL_ERR_UPSTREAM_TLS_HANDSHAKE': return { status: 502, type: 'tls_protocol_error' };
    case 'PCL_ERR_UPSTREAM_FAILED': return { status: 502, type: 'destination_unavailable' };
    default: return { status: 502, type: 'proxy_internal_error' };
  }
};
