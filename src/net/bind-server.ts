import type net from 'node:net';
import { PortcullisError } from '../errors.js';
import { joinListenAddress, splitListenAddress } from './listen-address.js';

/**
 * Binds a server to a validated "host:port" and resolves with the bound address (the real port
 * when 0 was asked); a bind failure is PCL_ERR_LISTEN_FAILED naming `what` and the address.
 */
export const bindServer = (server: net.Server, address: string, what: string): Promise<string> =>
  new Promise((resolve, reject) => {
    const { host, port } = splitListenAddress(address);
    const onError = (error: Error): void => {
      reject(new PortcullisError('PCL_ERR_LISTEN_FAILED', `${what}cannot listen on ${address}: ${error.message}`, { cause: error }));
    };
    server.once('error', onError);
    server.listen({ host, port }, () => {
      server.off('error', onError);
      const info = server.address() as net.AddressInfo;
      resolve(joinListenAddress(info.address, info.port));
    });
  });
