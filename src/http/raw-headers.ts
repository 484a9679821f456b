/** Counts a header in a raw header list and returns its first value. */
export const countHeader = (rawHeaders: readonly string[], lowerName: string): { count: number; value?: string } => {
  let count = 0;
  let value: string | undefined;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if ((rawHeaders[i] ?? '').toLowerCase() === lowerName) {
      count += 1;
      value ??= rawHeaders[i + 1];
    }
  }
  return value === undefined ? { count } : { count, value };
};
