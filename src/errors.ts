/**
 * Errors with stable codes. Callers branch on `code`, never on the message;
 * the message is the human reason that reaches the log and the client.
 */
export type PortcullisErrorCode =
  | 'PCL_ERR_CONFIG_INVALID'
  | 'PCL_ERR_CONFIG_READ'
  | 'PCL_ERR_INVALID_DESTINATION'
  | 'PCL_ERR_USERINFO_IN_URL'
  | 'PCL_ERR_DNS_FAILED'
  | 'PCL_ERR_ADDRESS_BLOCKED'
  | 'PCL_ERR_UPSTREAM_REFUSED'
  | 'PCL_ERR_UPSTREAM_TIMEOUT'
  | 'PCL_ERR_UPSTREAM_RESPONSE_TIMEOUT'
  | 'PCL_ERR_UPSTREAM_RESET'
  | 'PCL_ERR_UPSTREAM_FAILED'
  | 'PCL_ERR_UPSTREAM_TLS'
  | 'PCL_ERR_UPSTREAM_TLS_HANDSHAKE'
  | 'PCL_ERR_CLIENT_TLS'
  | 'PCL_ERR_CLIENT_ABORTED'
  | 'PCL_ERR_WEBSOCKET_FRAMING'
  | 'PCL_ERR_BODY_TOO_LARGE'
  | 'PCL_ERR_ADDON_DENIED'
  | 'PCL_ERR_LISTEN_FAILED'
  | 'PCL_ERR_LOG_WRITE'
  | 'PCL_ERR_CA_INVALID'
  | 'PCL_ERR_CA_WRITE'
  | 'PCL_ERR_CA_MINT';

export class PortcullisError extends Error {
  readonly code: PortcullisErrorCode;
  constructor(code: PortcullisErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PortcullisError';
    this.code = code;
  }
}

export const isPortcullisError = (value: unknown): value is PortcullisError =>
  value instanceof PortcullisError;
