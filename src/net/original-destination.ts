import { createRequire } from 'node:module';
import type net from 'node:net';
import { endianness } from 'node:os';
import { fileURLToPath } from 'node:url';
import ipaddr from 'ipaddr.js';
import type { OriginalDestination } from '../flow/original-destination.js';
import type { Logger } from '../logging/logger.js';
import { runningAsSingleExecutable } from '../sea/embedded-assets.js';
import { withEmbeddedAddon } from '../sea/extract-embedded-addon.js';

/**
 * The address a client dialed before an iptables/nftables REDIRECT rewrote it to the proxy,
 * read with getsockopt(SO_ORIGINAL_DST) (IPv4: SOL_IP=0, opt 80; IPv6: SOL_IPV6=41,
 * IP6T_SO_ORIGINAL_DST=80). Node has no getsockopt, so a tiny Node-API addon in
 * native/original-dst does the one call and returns the raw sockaddr; it is parsed here.
 * docs/transparent.md says why this and not an npm package or conntrack.
 */
export type { OriginalDestination } from '../flow/original-destination.js';
export { formatOriginalDestination } from '../flow/original-destination.js';

const AF_INET = 2;
const AF_INET6 = 10;
const SOCKADDR_IN_SIZE = 16;
const SOCKADDR_IN6_SIZE = 28;

/**
 * Parses a Linux `struct sockaddr_in` (16 bytes) or `struct sockaddr_in6` (28 bytes) as the
 * kernel fills it: sa_family in host byte order, port and address in network order.
 * An IPv4-mapped IPv6 address comes back as IPv4. Total: anything else gives undefined.
 */
export const parseSockaddr = (bytes: Uint8Array, endianness: 'LE' | 'BE' = 'LE'): OriginalDestination | undefined => {
  if (bytes.length < 2) return undefined;
  const family = endianness === 'LE' ? (bytes[0] ?? 0) | ((bytes[1] ?? 0) << 8) : ((bytes[0] ?? 0) << 8) | (bytes[1] ?? 0);
  const port = ((bytes[2] ?? 0) << 8) | (bytes[3] ?? 0);
  if (family === AF_INET) {
    if (bytes.length < SOCKADDR_IN_SIZE - 8) return undefined; // sin_zero may be cut, the address may not
    if (port === 0) return undefined;
    return { address: `${bytes[4]}.${bytes[5]}.${bytes[6]}.${bytes[7]}`, port, family: 4 };
  }
  if (family === AF_INET6) {
    if (bytes.length < SOCKADDR_IN6_SIZE - 4) return undefined; // sin6_scope_id may be cut
    if (port === 0) return undefined;
    const address = bytes.subarray(8, 24);
    const mapped = address.subarray(0, 10).every((b) => b === 0) && address[10] === 0xff && address[11] === 0xff;
    if (mapped) return { address: `${address[12]}.${address[13]}.${address[14]}.${address[15]}`, port, family: 4 };
    return { address: ipaddr.fromByteArray([...address]).toString(), port, family: 6 };
  }
  return undefined;
};

/** The addon's one function: raw sockaddr bytes for a descriptor, or a thrown Error with an errno `code`. */
export type OriginalDstCall = (fd: number, family: 4 | 6) => Uint8Array;

export interface OriginalDestinationSource {
  /**
   * Loads the addon on first use (logging once whether original destinations are available)
   * and reports the outcome.
   */
  status(): { readonly available: true } | { readonly available: false; readonly problem: string };
  /**
   * The original destination of an accepted connection; undefined when it is unknown (no
   * addon, no conntrack entry) or when the client dialed the listener itself (no REDIRECT).
   */
  lookup(socket: net.Socket): OriginalDestination | undefined;
}

const ADDON_PATH = fileURLToPath(new URL('../../native/original-dst/build/Release/original_dst.node', import.meta.url));

type AddonLoad = { ok: true; call: OriginalDstCall } | { ok: false; problem: string };

/** Loads the native addon; returns its function or the reason it is not there. */
export const loadOriginalDstAddon = (file?: string): AddonLoad => {
  if (process.platform !== 'linux') return { ok: false, problem: 'SO_ORIGINAL_DST exists on Linux only' };
  if (file === undefined && runningAsSingleExecutable()) {
    const loaded = withEmbeddedAddon((extracted) => loadAddonFile(extracted));
    return loaded.ok ? loaded.value : loaded;
  }
  return loadAddonFile(file ?? ADDON_PATH);
};

const loadAddonFile = (file: string): AddonLoad => {
  try {
    const addon = createRequire(import.meta.url)(file) as { originalDst?: unknown };
    if (typeof addon.originalDst !== 'function') return { ok: false, problem: `${file} does not export originalDst` };
    return { ok: true, call: addon.originalDst as OriginalDstCall };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return {
      ok: false,
      problem: code === 'MODULE_NOT_FOUND'
        ? `the native addon was not built (${file} is missing; run: node native/original-dst/build.mjs)`
        : `the native addon failed to load: ${(error as Error).message}`,
    };
  }
};

/** Node's TCP handle exposes the descriptor as `_handle.fd` on Unix; -1 or absent otherwise. */
const descriptorOf = (socket: net.Socket): number | undefined => {
  const fd = (socket as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : undefined;
};

const unmapped = (address: string | undefined): string | undefined =>
  address?.toLowerCase().startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;

/**
 * Reads SO_ORIGINAL_DST through `call` (or the addon, loaded lazily). An IPv4 client on a
 * dual-stack socket is asked at the IPv4 level, which Linux answers for v4-mapped sockets.
 */
export const createOriginalDestinationSource = (options: { logger: Logger; call?: OriginalDstCall; addonFile?: string }): OriginalDestinationSource => {
  let loaded: { ok: true; call: OriginalDstCall } | { ok: false; problem: string } | undefined =
    options.call ? { ok: true, call: options.call } : undefined;
  let reported = options.call !== undefined;
  const load = (): { ok: true; call: OriginalDstCall } | { ok: false; problem: string } => {
    loaded ??= loadOriginalDstAddon(options.addonFile);
    if (!reported) {
      reported = true;
      if (loaded.ok) options.logger.info({}, 'transparent mode: original destinations read with SO_ORIGINAL_DST (native addon)');
      else {
        options.logger.warn({ problem: loaded.problem },
          'transparent mode: original destinations unavailable; connections are still filtered by Host/SNI, '
          + 'but logs lack original_destination, verify_original_destination denies every connection and sni_missing: original-destination cannot route');
      }
    }
    return loaded;
  };
  return {
    status() {
      const state = load();
      return state.ok ? { available: true } : { available: false, problem: state.problem };
    },
    lookup(socket) {
      const state = load();
      if (!state.ok) return undefined;
      const fd = descriptorOf(socket);
      const remote = unmapped(socket.remoteAddress);
      if (fd === undefined || remote === undefined) return undefined;
      let parsed: OriginalDestination | undefined;
      try {
        parsed = parseSockaddr(state.call(fd, remote.includes(':') ? 6 : 4), endianness());
      } catch {
        return undefined; // ENOENT: no conntrack entry (not redirected, or conntrack not loaded)
      }
      // The client dialed the listener itself: nothing was redirected.
      if (parsed === undefined || (parsed.address === unmapped(socket.localAddress) && parsed.port === socket.localPort)) return undefined;
      return parsed;
    },
  };
};
