import { readFileSync } from 'node:fs';
import { embeddedAsset, PACKAGE_JSON_ASSET } from '../sea/embedded-assets.js';

/**
 * Portcullis's version, from package.json (two directories up from both src/admin and
 * dist/admin), or the copy built into the single executable. Read once per call; callers keep it.
 */
export const portcullisVersion = (): string => {
  try {
    const text = embeddedAsset(PACKAGE_JSON_ASSET)?.toString('utf8') ?? readFileSync(new URL('../../package.json', import.meta.url), 'utf8');
    const pkg = JSON.parse(text) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    return 'unknown';
  }
};
