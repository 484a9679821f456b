/** The address a client dialed before a firewall REDIRECT sent it to a transparent listener. */
export interface OriginalDestination {
  /** Canonical IP text (IPv4 dotted quad, IPv6 compressed; IPv4-mapped IPv6 unwrapped). */
  readonly address: string;
  readonly port: number;
  readonly family: 4 | 6;
}

/** "ip:port" or "[v6]:port", as logged. */
export const formatOriginalDestination = (destination: OriginalDestination): string =>
  destination.family === 6 ? `[${destination.address}]:${destination.port}` : `${destination.address}:${destination.port}`;
