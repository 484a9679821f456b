import { X509Certificate } from 'node:crypto';

/** Splits a PEM bundle into certificates. */
export const parsePemBundle = (pem: string): X509Certificate[] =>
  (pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []).map((block) => new X509Certificate(block));

/**
 * The user a client certificate names (its CN) when it was issued and signed by one of the
 * trusted client CAs and is within its validity; undefined otherwise. Node reports no
 * verification result for server-side TLS sockets it did not create itself, so the check is
 * made here, on the certificate the handshake carried.
 */
export const verifiedClientUser = (peer: X509Certificate | undefined, trusted: readonly X509Certificate[], now: number): string | undefined => {
  if (!peer) return undefined;
  const validFrom = Date.parse(peer.validFrom);
  const validTo = Date.parse(peer.validTo);
  if (!(now >= validFrom && now <= validTo)) return undefined;
  if (!trusted.some((ca) => peer.checkIssued(ca) && peer.verify(ca.publicKey))) return undefined;
  const commonName = /(?:^|\n)CN=([^\n]+)/.exec(peer.subject)?.[1];
  return commonName && commonName.length > 0 ? commonName : undefined;
};
