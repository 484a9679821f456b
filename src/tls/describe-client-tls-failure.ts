import type { ListenerConfig } from '../config/schema.js';

/**
 * A client's failed TLS handshake as the log tells it, with the fix when the cause is known:
 * a client offering only versions below the listener's `tls.min_version` (a legacy client on a
 * modern listener) is told which key to change.
 */
export const describeClientTlsFailure = (
  problem: { readonly code: string; readonly message: string; readonly timedOut: boolean }, listener: ListenerConfig,
): string => {
  const base = `client TLS failed: ${problem.code} ${problem.message}`.trim();
  if (/unsupported protocol|wrong version number|no protocols available|version too low/i.test(`${problem.code} ${problem.message}`)) {
    const min = listener.tls?.min_version ?? 'TLSv1.2';
    return `${base}; the client offers only TLS versions below this listener's tls.min_version (${min}): set listen[].tls.min_version (e.g. TLSv1) on a listener for legacy clients`;
  }
  return base;
};
