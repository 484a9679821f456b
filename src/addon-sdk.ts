/**
 * What an addon may use at run time from `portcullis`, without the rest of the package: the
 * entry a CommonJS addon's `require('portcullis')` falls back to (see addons/resolve-portcullis.ts).
 */
export { defineAddon } from './addons/addon-api.js';
export type { Addon, AddonFlow, AddonRequestFlow, AddonResponseFlow, AddonVerdict, AddonResponse, AddonClientHello } from './addons/addon-api.js';
export { normalizePath, pathMatchesPrefix } from './policy/path-normalizer.js';
