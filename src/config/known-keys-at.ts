import type { z } from 'zod';

/** The parts of a zod schema definition this walk reads; `_zod.def` is zod 4's documented introspection surface. */
interface SchemaDef {
  readonly type: string;
  readonly shape?: Record<string, z.core.$ZodType>;
  readonly element?: z.core.$ZodType;
  readonly valueType?: z.core.$ZodType;
  readonly innerType?: z.core.$ZodType;
  readonly in?: z.core.$ZodType;
}

const WRAPPERS = new Set(['optional', 'default', 'prefault', 'nullable', 'readonly', 'catch', 'nonoptional']);

const defOf = (schema: z.core.$ZodType): SchemaDef => schema._zod.def as unknown as SchemaDef;

/** Looks through optional/default/pipe wrappers to the schema that gives the value its shape. */
const unwrap = (schema: z.core.$ZodType): z.core.$ZodType => {
  let current = schema;
  for (;;) {
    const def = defOf(current);
    const inner = WRAPPERS.has(def.type) ? def.innerType : def.type === 'pipe' ? def.in : undefined;
    if (inner === undefined) return current;
    current = inner;
  }
};

/** The keys an object schema at `path` accepts (empty when `path` does not lead to an object schema). */
export const knownKeysAt = (schema: z.core.$ZodType, path: readonly PropertyKey[]): string[] => {
  let current: z.core.$ZodType | undefined = schema;
  for (const segment of path) {
    if (current === undefined) return [];
    const def = defOf(unwrap(current));
    if (def.type === 'object') current = def.shape?.[String(segment)];
    else if (def.type === 'array') current = def.element;
    else if (def.type === 'record') current = def.valueType;
    else return [];
  }
  if (current === undefined) return [];
  const def = defOf(unwrap(current));
  return def.type === 'object' && def.shape ? Object.keys(def.shape) : [];
};
