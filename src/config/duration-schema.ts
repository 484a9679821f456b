import { z } from 'zod';

const DURATION = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** A duration in milliseconds, written as a number of ms or a string like "10s", "500ms", "2m". */
export const DurationSchema = z.union([z.number().nonnegative(), z.string()]).transform((value, ctx) => {
  if (typeof value === 'number') return value;
  const match = DURATION.exec(value.trim());
  if (!match) {
    ctx.addIssue({ code: 'custom', message: `"${value}" is not a duration; write e.g. 500ms, 10s, 2m` });
    return z.NEVER;
  }
  return Number(match[1]) * (UNIT_MS[match[2] ?? 'ms'] ?? 1);
});
