import type { ProxyConfig } from '../config/schema.js';
import { isPortcullisError } from '../errors.js';
import type { Logger } from '../logging/logger.js';
import { splitListenAddress } from '../net/listen-address.js';
import { createAdmin, type Admin, type ReloadResult } from './admin.js';
import type { AdminProxy } from './admin-context.js';
import { isLoopbackBindHost } from './admin-auth.js';
import { resolveAdminToken } from './admin-token.js';

export interface StartAdminOptions {
  readonly config: ProxyConfig;
  /** `--admin ADDR`: turns the admin listener on at this address, whatever the config says. */
  readonly addressOverride?: string;
  /** A bind failure is a warning rather than fatal (the embedded default config's 9090 may be taken). */
  readonly optional: boolean;
  readonly reload?: () => Promise<ReloadResult>;
  readonly logger: Logger;
}

export interface StartedAdmin {
  readonly admin?: Admin;
  /** Lines for the terminal: the dashboard address, and the token once, when it was just generated. */
  readonly lines: readonly string[];
}

/** The browser address of a bound "host:port" (a wildcard bind is shown as loopback). */
const dashboardUrl = (bound: string): string => `http://${bound.replace(/^(0\.0\.0\.0|\[::\]):/, (all) => (all.startsWith('[') ? '[::1]:' : '127.0.0.1:'))}/`;

/**
 * Starts the admin listener when the config has an `admin:` section (enabled) or `--admin` is
 * given. Off loopback it requires a token: the configured one, or one generated into
 * state_dir/admin-token, printed to the terminal only on the run that created it.
 */
export const startAdmin = async (proxy: AdminProxy, options: StartAdminOptions): Promise<StartedAdmin> => {
  const section = options.config.admin;
  const address = options.addressOverride ?? (section?.enabled === true ? section.address : undefined);
  if (address === undefined) return { lines: [] };
  const offLoopback = !isLoopbackBindHost(splitListenAddress(address).host);
  const token = await resolveAdminToken({
    stateDir: options.config.state_dir, required: offLoopback, ...(section?.token !== undefined ? { configured: section.token } : {}),
  });
  const admin = createAdmin(proxy, {
    address, logger: options.logger, flowBuffer: section?.flows ?? 1000,
    ...(token.token !== undefined ? { token: token.token } : {}),
    ...(options.reload ? { reload: options.reload } : {}),
  });
  let bound: string;
  try {
    bound = await admin.listen();
  } catch (error) {
    if (!options.optional || !isPortcullisError(error)) throw error;
    return { lines: [`portcullis: ${error.message}; running without the dashboard (give --admin HOST:PORT for another address)`] };
  }
  admin.setReady(true);
  const lines = [`portcullis: dashboard and admin API on ${dashboardUrl(bound)} (metrics at /metrics)`];
  if (token.source === 'generated') {
    lines.push(`portcullis: off loopback the admin API needs this token (saved in ${token.file}; shown only now):`);
    lines.push(`    ${token.token}`);
    lines.push(`    open ${dashboardUrl(bound)}#token=${token.token}  or send  Authorization: Bearer <token>`);
  } else if (token.source === 'file') {
    lines.push(`portcullis: off loopback the admin API needs the token in ${token.file}`);
  } else if (token.source === 'config') {
    lines.push('portcullis: off loopback the admin API needs the token set in admin.token');
  }
  return { admin, lines };
};
