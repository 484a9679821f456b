import { readFileSync } from 'node:fs';

/**
 * Portcullis's version, from package.json (two directories up from both src/admin and
 * dist/admin). Read once per call; callers keep it.
 */
export const portcullisVersion = (): string => {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    return 'unknown';
  }
};
