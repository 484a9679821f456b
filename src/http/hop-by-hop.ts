/** Headers that describe one connection, never forwarded (RFC 9110 §7.6.1). */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  // The h2c upgrade's settings: meaningful only with Upgrade, never forwarded on its own.
  'http2-settings',
]);

/**
 * Copies a raw header list ([name, value, name, value, ...], as node's rawHeaders) without the
 * hop-by-hop headers, without any header that `Connection` names and without HTTP/2
 * pseudo-headers (":path", ...). `drop` names more headers (lowercase) to remove.
 */
export const stripHopByHop = (rawHeaders: readonly string[], drop?: ReadonlySet<string>): string[] => {
  let named: Set<string> | undefined;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = (rawHeaders[i] ?? '').toLowerCase();
    if (name === 'connection' || name === 'proxy-connection') {
      for (const token of (rawHeaders[i + 1] ?? '').split(',')) {
        const t = token.trim().toLowerCase();
        if (t) (named ??= new Set()).add(t);
      }
    }
  }
  const out: string[] = [];
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] ?? '';
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower) || named?.has(lower) || drop?.has(lower) || lower.startsWith(':')) continue;
    out.push(name, rawHeaders[i + 1] ?? '');
  }
  return out;
};
