import { existsSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { PortcullisError } from '../errors.js';
import { suggestKey } from '../config/suggest-key.js';
import { HOOK_NAMES, type Addon } from './addon-api.js';
import { letAddonsImportPortcullis } from './resolve-portcullis.js';

/** TypeScript addons are compiled on load (tsx, esbuild underneath): no build step for the operator. */
const TYPESCRIPT = /\.(ts|mts|cts)$/;

/**
 * The tsconfig.json nearest the addon, as tsc would use for it; tsx would otherwise read the one
 * in the working directory, whose `paths` may point `portcullis` somewhere else entirely.
 */
const nearestTsconfig = (file: string): string | false => {
  for (let dir = path.dirname(path.resolve(file)); ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'tsconfig.json');
    if (existsSync(candidate)) return candidate;
    if (path.dirname(dir) === dir) return false;
  }
};

const problem = (file: string, message: string, cause?: unknown): PortcullisError =>
  new PortcullisError('PCL_ERR_CONFIG_INVALID', `addons: ${file}: ${message}`, cause === undefined ? undefined : { cause });

/** Checks the shape of a loaded module's default export: a name and only known hooks, each a function. */
export const checkAddon = (file: string, exported: unknown): Addon => {
  if (exported === null || typeof exported !== 'object') {
    throw problem(file, 'the default export must be an addon: export default defineAddon({ name, ...hooks })');
  }
  const candidate = exported as Record<string, unknown>;
  if (typeof candidate.name !== 'string' || !/^[A-Za-z0-9_.-]{1,64}$/.test(candidate.name)) {
    throw problem(file, 'the addon needs a name: letters, digits and _ . - (up to 64)');
  }
  for (const [key, value] of Object.entries(candidate)) {
    if (key === 'name') continue;
    if (!(HOOK_NAMES as readonly string[]).includes(key)) {
      const guess = suggestKey(key, HOOK_NAMES);
      throw problem(file, `unknown hook "${key}"${guess ? ` (did you mean ${guess}?)` : ''}; the hooks are ${HOOK_NAMES.join(', ')}`);
    }
    if (typeof value !== 'function') throw problem(file, `hook "${key}" must be a function`);
  }
  return candidate as unknown as Addon;
};

/**
 * Imports the addons of a config, in order. Each load is a fresh module instance (a reload
 * picks up an edited file); a missing file, a syntax error or a bad shape is a config problem,
 * so a broken addon never replaces a working set.
 */
export const loadAddons = async (files: readonly string[], generation: number): Promise<Addon[]> => {
  const loaded: Addon[] = [];
  const names = new Set<string>();
  if (files.length > 0) letAddonsImportPortcullis();
  for (const file of files) {
    const url = `${pathToFileURL(file).href}?generation=${generation}`;
    let module: { default?: unknown };
    try {
      if (TYPESCRIPT.test(file)) {
        const { tsImport } = await import('tsx/esm/api');
        module = await tsImport(url, { parentURL: import.meta.url, tsconfig: nearestTsconfig(file) }) as { default?: unknown };
      } else {
        module = await import(url) as { default?: unknown };
      }
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      throw problem(file, code === 'ERR_MODULE_NOT_FOUND' && String((error as Error).message).includes(file)
        ? 'file not found' : `cannot load: ${(error as Error).message.split('\n')[0]}`, error);
    }
    // A .ts file outside an ES-module package compiles to CommonJS: its default export is one level down.
    const exported = module.default as { name?: unknown; default?: unknown } | undefined;
    const addon = checkAddon(file, exported !== undefined && exported.name === undefined && exported.default !== undefined ? exported.default : exported);
    if (names.has(addon.name)) throw problem(file, `another addon is already named "${addon.name}"`);
    names.add(addon.name);
    loaded.push(addon);
  }
  return loaded;
};
