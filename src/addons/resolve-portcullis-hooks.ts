/**
 * module.register hooks (they run on Node's loader thread): a bare `portcullis` that the usual
 * lookup cannot find resolves to the running Portcullis. See resolve-portcullis.ts.
 */
interface ResolveContext { readonly parentURL?: string }
interface ResolveResult { readonly url: string; readonly shortCircuit?: boolean; readonly format?: string | null }
type NextResolve = (specifier: string, context: ResolveContext) => Promise<ResolveResult>;

// The hooks API hands its data to initialize() once; resolve() has no other way to reach it.
const state: { entryUrl?: string } = {};

export const initialize = (data: { entryUrl: string }): void => {
  state.entryUrl = data.entryUrl;
};

export const resolve = async (specifier: string, context: ResolveContext, next: NextResolve): Promise<ResolveResult> => {
  if (specifier !== 'portcullis' || !state.entryUrl) return next(specifier, context);
  try {
    return await next(specifier, context);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ERR_MODULE_NOT_FOUND') throw error;
    // Through the rest of the chain, so a TypeScript loader (tsx, in a checkout) still loads it.
    return next(state.entryUrl, context);
  }
};
