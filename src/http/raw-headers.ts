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

/** Every value of a header (by lowercase name) in a raw header list. */
export const headerValues = (rawHeaders: readonly string[], lowerName: string): string[] => {
  const values: string[] = [];
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if ((rawHeaders[i] ?? '').toLowerCase() === lowerName) values.push(rawHeaders[i + 1] ?? '');
  }
  return values;
};
