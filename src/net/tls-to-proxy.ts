import { readFileSync } from 'node:fs';
import type net from 'node:net';
import type tls from 'node:tls';
import type { ListenerConfig } from '../config/schema.js';
import { PortcullisError } from '../errors.js';
import { clientIpOf } from '../flow/client-address.js';
import { parseHost } from '../flow/host.js';
import { recordConnectionRefusal } from '../pipeline/connection-refusal.js';
import { describeClientTlsFailure } from '../tls/describe-client-tls-failure.js';
import type { ProxyRuntime } from '../runtime.js';
import { acceptTls } from '../tls/accept-tls.js';
import { clientTlsProfile } from '../tls/client-tls-profile.js';
import { createLeafContexts } from '../tls/leaf-contexts.js';
import { parsePemBundle, verifiedClientUser } from '../tls/verify-client-certificate.js';

/** The listener's `tls.client_ca` bundle; an unreadable file is an error naming the key. */
const readClientCa = (file: string): string => {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    throw new PortcullisError('PCL_ERR_CONFIG_READ', `listen[].tls.client_ca: cannot read ${file}: ${(error as Error).message}`, { cause: error });
  }
};

export interface TlsToProxy {
  /** Terminates TLS on a connection whose first byte was a handshake record. */
  terminate(socket: net.Socket): void;
}

/**
 * TLS to the proxy itself (`https_proxy=https://...`): a certificate for the name the client
 * asked for (or the listener address), from the proxy CA. With `tls.client_ca`, clients may (or
 * must) present a certificate; its CN names the user for rules with `users`. Decrypted
 * connections are served like plain ones.
 */
export const createTlsToProxy = (
  runtime: ProxyRuntime, config: ListenerConfig, listener: () => string, serve: (secure: tls.TLSSocket, raw: net.Socket) => void,
): TlsToProxy => {
  const clientCa = config.tls?.client_ca === undefined ? undefined : readClientCa(config.tls.client_ca);
  const trustedClientCas = clientCa === undefined ? [] : parsePemBundle(clientCa);
  const contexts = createLeafContexts(runtime.clock, clientTlsProfile(config), () => runtime.ca(), clientCa);
  const terminate = (socket: net.Socket): void => {
    const ownAddress = parseHost(socket.localAddress ?? '');
    if (!ownAddress.ok) {
      socket.destroy();
      return;
    }
    void contexts.contextFor(ownAddress.value).then((context) => {
      acceptTls(socket, {
        secureContext: context,
        ALPNProtocols: ['http/1.1'],
        ...(clientCa !== undefined ? { requestCert: true, rejectUnauthorized: config.tls?.require_client_certificate === true } : {}),
        SNICallback: (servername, callback) => {
          const named = parseHost(servername);
          if (!named.ok) {
            callback(new Error('invalid SNI'), undefined);
            return;
          }
          contexts.contextFor(named.value).then((ctx) => callback(null, ctx), (error: Error) => callback(error, undefined));
        },
      }, runtime.state().config.timeouts.client_hello, {
        secure: (secure) => {
          if (trustedClientCas.length > 0) {
            const user = verifiedClientUser(secure.getPeerX509Certificate(), trustedClientCas, runtime.clock.now());
            if (user) runtime.certificateUsers.set(secure, user);
            else if (config.tls?.require_client_certificate) {
              secure.destroy();
              return;
            }
          }
          serve(secure, socket);
        },
        failed: (problem) => recordConnectionRefusal(runtime, {
          kind: 'http', connection: { client: { address: clientIpOf(socket.remoteAddress), port: socket.remotePort ?? 0 }, listener: listener() },
          reason: 'client-tls-failed', status: 0, detail: describeClientTlsFailure(problem, config),
        }),
      });
      socket.resume();
    }, () => socket.destroy());
  };
  return { terminate };
};
