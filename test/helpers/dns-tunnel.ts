/**
 * What DNS tunnels (iodine, dnscat-style tools) send: data as base32 in the labels of names
 * under a zone whose name server they run. Used to test the DNS exfiltration guard.
 */

/** RFC 4648 base32, lowercase, unpadded. */
export const base32 = (bytes: Uint8Array): string => {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz234567';
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of bytes) {
    value = ((value << 8) | byte) & 0xffff;
    bits += 8;
    while (bits >= 5) {
      out += alphabet[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  return bits > 0 ? out + alphabet[(value << (5 - bits)) & 31] : out;
};

/**
 * The names that carry `data`: base32 chunks of `label` characters, `labels` of them per name,
 * then a sequence label (the tool's own `<seq>`), then the zone: `<chunk>.<chunk>.<seq>.<zone>`.
 */
export const tunnelNames = (data: Uint8Array, label: number, labels: number, zone: string): string[] => {
  const encoded = base32(data);
  const names: string[] = [];
  const perName = label * labels;
  for (let at = 0, seq = 0; at < encoded.length; at += perName, seq += 1) {
    const chunk = encoded.slice(at, at + perName);
    const parts: string[] = [];
    for (let i = 0; i < chunk.length; i += label) parts.push(chunk.slice(i, i + label));
    names.push(`${parts.join('.')}.${seq.toString(36)}.${zone}`);
  }
  return names;
};
