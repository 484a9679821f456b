import { getDomain } from 'tldts';
import { formatRate, type Rate } from '../config/dns-schema.js';

/**
 * The DNS exfiltration guard: a name the policy allows (say under `*.example.com`) can still
 * carry data in its labels (`<base32 chunk>.<chunk>.t.example.com`), read by whoever runs the
 * zone's name server. Each name is checked by itself (label length, name length, entropy), and
 * each client has two budgets: queries for allowed names per second, and characters of names it
 * has not asked for lately. What trips any of them is `dns-exfiltration-suspected`.
 */

export interface ExfiltrationLimits {
  readonly max_label_length: number;
  readonly max_name_length: number;
  readonly max_entropy: number;
  readonly rate: Rate;
  readonly new_name_budget: Rate;
}

/** The entropy check looks at no fewer characters: short strings cannot show their randomness. */
export const ENTROPY_MIN_CHARACTERS = 32;
/** Names a client asked for lately, per client: asking again for one of them costs no budget. */
const RECENT_NAMES = 256;
/** Clients remembered at once; the least recently seen is forgotten first. */
const MAX_CLIENTS = 10_000;

/** Shannon entropy of the characters, in bits per character. */
export const shannonEntropy = (text: string): number => {
  if (text.length === 0) return 0;
  const counts = new Map<string, number>();
  for (const ch of text) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  let bits = 0;
  for (const count of counts.values()) {
    const p = count / text.length;
    bits -= p * Math.log2(p);
  }
  return bits;
};

/** The labels left of the registrable domain ("a1b2.c3.t" of "a1b2.c3.t.example.com"), dots removed: what a zone owner may read as data. */
export const subdomainCharacters = (name: string): string => {
  const domain = getDomain(name, { allowPrivateDomains: false }) ?? name.slice(name.lastIndexOf('.') + 1);
  const below = name.length > domain.length ? name.slice(0, name.length - domain.length - 1) : '';
  return below.replace(/\./g, '');
};

/** Why one name, by itself, looks like data: undefined when it does not. `name` is canonical (lowercase, no trailing dot). */
export const suspiciousName = (name: string, limits: ExfiltrationLimits): string | undefined => checkName(name, subdomainCharacters(name), limits);

/** suspiciousName with the name's subdomain characters already found. */
const checkName = (name: string, data: string, limits: ExfiltrationLimits): string | undefined => {
  if (name.length > limits.max_name_length) return `name of ${name.length} characters, more than dns.exfiltration.max_name_length (${limits.max_name_length})`;
  const longest = name.split('.').reduce((max, label) => Math.max(max, label.length), 0);
  if (longest > limits.max_label_length) return `a label of ${longest} characters, more than dns.exfiltration.max_label_length (${limits.max_label_length})`;
  if (data.length >= ENTROPY_MIN_CHARACTERS) {
    const entropy = shannonEntropy(data);
    if (entropy > limits.max_entropy) return `labels with ${entropy.toFixed(2)} bits of entropy per character, more than dns.exfiltration.max_entropy (${limits.max_entropy})`;
  }
  return undefined;
};

export type GuardVerdict = { readonly ok: true } | { readonly ok: false; readonly detail: string };

export interface ExfiltrationGuard {
  /** Checks one query for an allowed name from `client` at `now` (epoch ms), and counts it when it passes. */
  admit(client: string, name: string, now: number, limits: ExfiltrationLimits): GuardVerdict;
}

interface ClientState {
  queries: number;
  characters: number;
  at: number;
  readonly recent: Set<string>;
}

const refill = (tokens: number, rate: Rate, elapsedMs: number): number => Math.min(rate.count, tokens + (rate.count * elapsedMs) / rate.perMs);

/**
 * One guard per proxy, shared by its DNS listeners (UDP and TCP alike); with N worker processes
 * sharing the listeners, each keeps `share` = 1/N of every budget, so together they allow no more
 * than the configured budget (a client whose queries all land on one worker gets less). A name that looks like
 * data also throttles its client: its query budget drops to minus one window's worth, so its
 * queries for allowed names wait until about one window (1 s at 50/s) after the last such name.
 */
export const createExfiltrationGuard = (share = 1): ExfiltrationGuard => {
  const clients = new Map<string, ClientState>();
  const scaled = (rate: Rate): Rate => (share >= 1 ? rate : { count: Math.max(1, Math.floor(rate.count * share)), perMs: rate.perMs });
  const stateOf = (client: string, now: number, limits: ExfiltrationLimits): ClientState => {
    const known = clients.get(client);
    if (known !== undefined) {
      clients.delete(client); // re-inserted below: the map's order is least recently seen first
      const elapsed = Math.max(0, now - known.at);
      known.queries = refill(known.queries, limits.rate, elapsed);
      known.characters = refill(known.characters, limits.new_name_budget, elapsed);
      known.at = now;
      clients.set(client, known);
      return known;
    }
    if (clients.size >= MAX_CLIENTS) clients.delete(clients.keys().next().value as string);
    const fresh: ClientState = { queries: limits.rate.count, characters: limits.new_name_budget.count, at: now, recent: new Set() };
    clients.set(client, fresh);
    return fresh;
  };
  return {
    admit(client, name, now, configured) {
      const limits = { ...configured, rate: scaled(configured.rate), new_name_budget: scaled(configured.new_name_budget) };
      const state = stateOf(client, now, limits);
      const data = subdomainCharacters(name);
      const suspicious = checkName(name, data, limits);
      if (suspicious !== undefined) {
        state.queries = Math.min(state.queries, -limits.rate.count);
        return { ok: false, detail: `${suspicious}; the client is throttled` };
      }
      if (state.queries < 1) {
        return { ok: false, detail: `more than ${formatRate(limits.rate)} queries for allowed names from this client (dns.exfiltration.rate)` };
      }
      const fresh = !state.recent.has(name);
      const cost = fresh ? data.length : 0;
      if (cost > state.characters) {
        return { ok: false, detail: `new names worth more than ${formatRate(limits.new_name_budget)} characters from this client (dns.exfiltration.new_name_budget)` };
      }
      state.queries -= 1;
      state.characters -= cost;
      if (fresh) {
        if (state.recent.size >= RECENT_NAMES) state.recent.delete(state.recent.values().next().value as string);
        state.recent.add(name);
      }
      return { ok: true };
    },
  };
};
