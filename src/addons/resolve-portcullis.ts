import Module, { register } from 'node:module';
import { isSea } from 'node:sea';
import { fileURLToPath } from 'node:url';

/**
 * Lets an addon `import { defineAddon } from 'portcullis'` wherever it lives, as a mitmproxy
 * script imports mitmproxy: when the usual lookup (the addon's own node_modules, or the
 * package's self-reference inside a checkout) finds no `portcullis`, the running Portcullis is
 * used (its addon-sdk entry: defineAddon, the path normalizer, the types). ES modules go through a module.register resolve hook; a TypeScript addon outside an
 * ES-module package compiles to CommonJS, whose require() the ESM hooks don't see in Node 20,
 * so the CommonJS resolver gets a fallback too (to addon-sdk, the part addons use).
 *
 * The loader chain belongs to the process, so this is done once per process; the mark lives on
 * `process` for that reason.
 */
const INSTALLED = Symbol.for('portcullis.addons.resolve-portcullis');

type ResolveFilename = (this: unknown, request: string, ...rest: unknown[]) => string;

export const letAddonsImportPortcullis = (): void => {
  const mark = process as unknown as Record<symbol, boolean | undefined>;
  // The single executable has no module files to point at: its addons import only types.
  if (mark[INSTALLED] || isSea()) return;
  mark[INSTALLED] = true;
  // Same extension as this file: dist/ has .js, a checkout run through tsx has .ts.
  const extension = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
  // Only the part addons use: the whole package loaded a second time (as CommonJS, or from
  // source under tsx) would be another instance of everything, undici included, which breaks.
  const sdk = new URL(`../addon-sdk${extension}`, import.meta.url);
  register(new URL(`./resolve-portcullis-hooks${extension}`, import.meta.url), {
    data: { entryUrl: sdk.href },
  });
  const cjs = Module as unknown as { _resolveFilename: ResolveFilename };
  const original = cjs._resolveFilename;
  cjs._resolveFilename = function resolvePortcullis(this: unknown, request: string, ...rest: unknown[]): string {
    try {
      return original.call(this, request, ...rest);
    } catch (error) {
      if (request === 'portcullis' && (error as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND') return fileURLToPath(sdk);
      throw error;
    }
  };
};
