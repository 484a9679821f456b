/**
 * The public API of the `portcullis` package: `import { createProxy, loadConfig } from 'portcullis'`.
 *
 * ```ts
 * const result = await loadConfig('./portcullis.yaml');
 * if (!result.ok) throw new Error(result.problems.map(formatProblem).join('\n'));
 * const proxy = createProxy(result.config, { onFlow: (flow) => console.log(flow.verdict, flow.url) });
 * console.log(await proxy.start());   // the bound listener addresses
 * ```
 */
export { createProxy, type Proxy, type ProxyDeps } from './proxy.js';
export {
  ProxyConfigSchema,
  type ProxyConfig,
  type ListenerConfig,
  type RuleConfig,
} from './config/schema.js';
export {
  loadConfig,
  parseConfigText,
  formatProblem,
  resolveConfigPaths,
  type ConfigResult,
  type ConfigProblem,
} from './config/load-config.js';
export { DEFAULT_CONFIG_YAML, loadDefaultConfig } from './config/default-config.js';
export type { Decision, AllowDecision, DenyDecision, DenyReason } from './policy/decision.js';
export type { FlowRecord, FlowTls, FlowTimings, HeaderPair } from './flow/flow-record.js';
export { PortcullisError, isPortcullisError, type PortcullisErrorCode } from './errors.js';
export { defineAddon, type Addon, type AddonFlow, type AddonRequestFlow, type AddonResponseFlow, type AddonVerdict, type AddonResponse, type AddonClientHello } from './addons/addon-api.js';
/** The path normalization `paths` rules use, for addons that judge paths themselves. */
export { normalizePath, pathMatchesPrefix } from './policy/path-normalizer.js';
