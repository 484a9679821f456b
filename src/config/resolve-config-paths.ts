import path from 'node:path';
import { deepFreeze } from './deep-freeze.js';
import type { ProxyConfig } from './schema.js';

/**
 * Resolves the file paths a config names (state_dir, ca.cert, ca.key, upstream.tls.extra_ca,
 * log.file unless "-", auth.basic.users_file, addons, rules[].inject[].secret.file) against `baseDir`, normally the config file's directory. Returns a new
 * frozen config; absolute paths are kept as written.
 */
export const resolveConfigPaths = (config: ProxyConfig, baseDir: string): ProxyConfig => {
  const resolve = (file: string): string => path.resolve(baseDir, file);
  const tls = config.upstream?.tls;
  return deepFreeze({
    ...config,
    state_dir: resolve(config.state_dir),
    listen: config.listen.map((listener) => listener.tls?.client_ca === undefined
      ? listener
      : { ...listener, tls: { ...listener.tls, client_ca: resolve(listener.tls.client_ca) } }),
    ca: {
      ...config.ca,
      ...(config.ca.cert !== undefined && { cert: resolve(config.ca.cert) }),
      ...(config.ca.key !== undefined && { key: resolve(config.ca.key) }),
    },
    ...(config.upstream && {
      upstream: { ...config.upstream, ...(tls && { tls: { ...tls, extra_ca: tls.extra_ca.map(resolve) } }) },
    }),
    log: { ...config.log, file: config.log.file === '-' ? '-' : resolve(config.log.file) },
    ...(config.auth && { auth: { ...config.auth, basic: { ...config.auth.basic, users_file: resolve(config.auth.basic.users_file) } } }),
    addons: config.addons.map(resolve),
    rules: config.rules.map((rule) => rule.inject === undefined ? rule : {
      ...rule,
      inject: rule.inject.map((entry) => ('file' in entry.secret ? { ...entry, secret: { file: resolve(entry.secret.file) } } : entry)),
    }),
  });
};
