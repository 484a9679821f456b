/** Client peer address as the policy and logs see it: IPv4-mapped IPv6 unwrapped. */
export const clientIpOf = (remoteAddress: string | undefined): string => {
  if (!remoteAddress) return '0.0.0.0';
  return remoteAddress.startsWith('::ffff:') && remoteAddress.includes('.') ? remoteAddress.slice(7) : remoteAddress;
};
