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
  // A reserved field name (RFC 9110 §16.3.2.2): it would read as the `close` connection option.
  'close',
]);

/**
 * Copies a raw header list ([name, value, name, value, ...], as node's rawHeaders) without the
 * hop-by-hop headers, without any header that `Connection` names and without HTTP/2
 * pseudo-headers (":path", ...). `drop` names more headers (lowercase) to remove.
 */
export const stripHopByHop = (rawHeaders: readonly string[], drop?: ReadonlySet<string>): string[] => {
  // One pass, each name lowercased once (this runs twice per request: S1's profile showed it).
  // `Connection: keep-alive` or `close` names only hop-by-hop names, so the usual request needs
  // no second pass; a Connection header naming anything else gets one, over what was kept.
  let named: Set<string> | undefined;
  const out: string[] = [];
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] ?? '';
    const lower = name.toLowerCase();
    if (lower === 'connection' || lower === 'proxy-connection') {
      for (const token of (rawHeaders[i + 1] ?? '').split(',')) {
        const t = token.trim().toLowerCase();
        if (t !== '' && !HOP_BY_HOP.has(t)) (named ??= new Set()).add(t);
      }
    }
    if (HOP_BY_HOP.has(lower) || drop?.has(lower) || lower.startsWith(':')) continue;
    out.push(name, rawHeaders[i + 1] ?? '');
  }
  if (named === undefined) return out;
  const kept: string[] = [];
  for (let i = 0; i < out.length; i += 2) {
    if (!named.has((out[i] as string).toLowerCase())) kept.push(out[i] as string, out[i + 1] as string);
  }
  return kept;
};
