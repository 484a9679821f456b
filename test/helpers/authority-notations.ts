/**
 * Every authority notation Portcullis must judge, in one table: the unit test
 * (test/unit/flow/authority-notation.test.ts) runs it through parseAuthority and
 * parseAbsoluteTarget, the security test (test/security/authority-notation.test.ts) through a
 * real proxy with raw sockets. `HOST` stands for allowed.test, a name the policy allows, and
 * `PORT` for the origin's port, so that a notation the proxy wrongly reinterpreted would reach
 * the origin.
 */
export type Outcome = 'ok' | 'invalid-destination' | 'userinfo-in-url';

export interface Notation {
  readonly name: string;
  /** The authority as written on the wire, with HOST and PORT placeholders. */
  readonly authority: string;
  /** What parseAuthority gives for it as a CONNECT target (no default port). */
  readonly connect: Outcome;
  /** What parseAbsoluteTarget gives for http://AUTHORITY/ (default port 80). */
  readonly absolute: Outcome;
  /** Expected port when it parses (PORT stands for the placeholder). */
  readonly port?: number | 'PORT';
  /** Expected canonical host when it parses (HOST stands for the placeholder). */
  readonly host?: string;
  /** Leave out of the raw-socket test (the notation can't be put on a request line as it is). */
  readonly unitOnly?: boolean;
}

const refused = (name: string, authority: string, extra: Partial<Notation> = {}): Notation =>
  ({ name, authority, connect: 'invalid-destination', absolute: 'invalid-destination', ...extra });
const accepted = (name: string, authority: string, host: string, port: number | 'PORT', extra: Partial<Notation> = {}): Notation =>
  ({ name, authority, connect: 'ok', absolute: 'ok', host, port, ...extra });

export const NOTATIONS: readonly Notation[] = [
  // What must keep working.
  accepted('a name and a port', 'HOST:PORT', 'HOST', 'PORT'),
  accepted('a name in mixed case', 'Allowed.TEST:PORT', 'allowed.test', 'PORT'),
  accepted('a name with a trailing dot', 'HOST.:PORT', 'HOST', 'PORT'),
  accepted('the highest port', 'HOST:65535', 'HOST', 65535),
  accepted('the lowest port', 'HOST:1', 'HOST', 1),
  accepted('a bracketed IPv6 literal', '[::1]:PORT', '::1', 'PORT'),
  accepted('a punycode name', 'xn--bcher-kva.HOST:PORT', 'xn--bcher-kva.HOST', 'PORT'),
  { name: 'a name without a port (absolute-form only)', authority: 'HOST', connect: 'invalid-destination', absolute: 'ok', host: 'HOST', port: 80 },
  // Ports.
  refused('a port with a leading zero', 'HOST:0PORT'),
  refused('a port with two leading zeros', 'HOST:00PORT'),
  refused('port 80 written as 080', 'HOST:080'),
  refused('port 443 written as 0443', 'HOST:0443'),
  refused('port zero', 'HOST:0'),
  refused('port zero written as 00', 'HOST:00'),
  refused('a port with a plus sign', 'HOST:+PORT'),
  refused('a port with a minus sign', 'HOST:-PORT'),
  refused('a port after a space', 'HOST: PORT', { unitOnly: true }),
  refused('a port before a space', 'HOST:PORT ', { unitOnly: true }),
  refused('a port after a tab', 'HOST:\tPORT', { unitOnly: true }),
  refused('port 65536', 'HOST:65536'),
  refused('port 99999', 'HOST:99999'),
  refused('a port of six digits', 'HOST:100000'),
  refused('a port that wraps around 2^16 to 443', 'HOST:65979'),
  refused('a port that wraps around 2^32 to 443', 'HOST:4294967739'),
  refused('a port in hex', 'HOST:0x50'),
  refused('a port given as a service name', 'HOST:https'),
  refused('a port with a decimal point', 'HOST:80.0'),
  refused('a port in exponent notation', 'HOST:8e1'),
  refused('a port followed by letters', 'HOST:PORTabc'),
  refused('an empty port', 'HOST:', { absolute: 'invalid-destination' }),
  refused('two ports', 'HOST:PORT:PORT'),
  refused('a port written with a full-width digit', 'HOST:\uff18\uff10', { unitOnly: true }),
  refused('a port in an IPv6 authority with a leading zero', '[::1]:0PORT'),
  refused('a port glued to an IPv6 bracket', '[::1]PORT'),
  // Hosts.
  refused('a percent-encoded letter in the host', '%68ost.test:PORT'),
  refused('a percent-encoded dot in the host', 'HOST%2e:PORT'),
  refused('a percent-encoded NUL after the host', 'HOST%00.evil.test:PORT'),
  refused('a percent-encoded slash after the host', 'HOST%2F.evil.test:PORT'),
  refused('a backslash after the host', 'HOST\\.evil.test:PORT'),
  refused('a backslash before the port', 'HOST\\:PORT'),
  refused('a trailing semicolon', 'HOST;:PORT'),
  refused('a trailing comma and another host', 'HOST,evil.test:PORT'),
  refused('a trailing exclamation mark', 'HOST!:PORT'),
  refused('a trailing tilde', 'HOST~:PORT'),
  refused('two trailing dots', 'HOST..:PORT'),
  refused('a leading dot', '.HOST:PORT'),
  refused('an empty host', ':PORT'),
  refused('a space inside the host', 'ho st.test:PORT', { unitOnly: true }),
  refused('a NUL inside the host', 'HOST\u0000.evil.test:PORT', { unitOnly: true }),
  refused('a soft hyphen the URL parser would drop', 'HOST\u00ad:PORT', { unitOnly: true }),
  refused('a zero-width space the URL parser would drop', 'HO\u200bST:PORT', { unitOnly: true }),
  refused('a full-width dot the URL parser would map', 'allowed\uff0etest:PORT', { unitOnly: true }),
  refused('a raw non-ASCII name', 'b\u00fccher.test:PORT', { unitOnly: true }),
  refused('an unbracketed IPv6 literal', '::1:PORT'),
  refused('an IPv6 literal with a zone id', '[fe80::1%25eth0]:PORT'),
  refused('an unterminated IPv6 bracket', '[::1:PORT'),
  refused('text after an IPv6 bracket', '[::1]x:PORT'),
  refused('a bracketed name', '[HOST]:PORT'),
  refused('a bracketed IPv4', '[127.0.0.1]:PORT'),
  refused('a name whose last label is numeric', 'HOST.123:PORT'),
  refused('an IPv4 with an octet above 255', '127.0.0.256:PORT'),
  { name: 'credentials before the host', authority: 'user@HOST:PORT', connect: 'userinfo-in-url', absolute: 'userinfo-in-url' },
  { name: 'credentials with a password before the host', authority: 'user:pass@HOST:PORT', connect: 'userinfo-in-url', absolute: 'userinfo-in-url' },
  { name: 'a backslash hiding credentials', authority: 'evil.test\\@HOST:PORT', connect: 'userinfo-in-url', absolute: 'userinfo-in-url' },
  { name: 'an encoded at-sign is still refused', authority: 'evil.test%40HOST:PORT', connect: 'invalid-destination', absolute: 'invalid-destination' },
];

/** Fills in the placeholders. */
export const NOTATION_HOST = 'allowed.test';
export const fill = (text: string, port: number): string => text.replaceAll('HOST', NOTATION_HOST).replaceAll('PORT', String(port));
