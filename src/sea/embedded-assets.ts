import { getAsset, isSea } from 'node:sea';

/**
 * Files built into the single executable by `npm run build:sea` (node:sea assets): the dashboard
 * under `web/`, `package.json`, and the SO_ORIGINAL_DST addon when it was built. Outside the
 * single executable there are none, and callers read the file from disk as before.
 */
export const embeddedAsset = (key: string): Buffer | undefined => {
  if (!isSea()) return undefined;
  try {
    return Buffer.from(getAsset(key));
  } catch {
    return undefined; // not embedded (getAsset throws for an unknown key)
  }
};

/** True when running as the single executable. */
export const runningAsSingleExecutable = (): boolean => isSea();

/** Asset keys use "/" whatever the platform: `web/index.html`. */
export const dashboardAssetKey = (relativePath: string): string => `web/${relativePath.split('\\').join('/')}`;

export const ORIGINAL_DST_ASSET = 'native/original_dst.node';
export const PACKAGE_JSON_ASSET = 'package.json';
