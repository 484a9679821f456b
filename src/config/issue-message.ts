import type { z } from 'zod';

const EXPECTED: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'a whole number',
  boolean: 'true or false',
  array: 'a list',
  object: 'a mapping',
  record: 'a mapping',
  null: 'an empty value',
};

const expectedText = (expected: string): string => EXPECTED[expected] ?? expected;

/** How a value from the YAML reads in a message: `the string "80"`, `1.5`, `a list`. */
export const describeValue = (value: unknown): string => {
  if (value === undefined) return 'nothing';
  if (value === null) return 'an empty value';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') return `the string ${quote(value)}`;
  return String(value);
};

const quote = (text: string): string => JSON.stringify(text.length > 60 ? `${text.slice(0, 57)}...` : text);

const shown = (value: unknown): string => (typeof value === 'string' ? quote(value) : describeValue(value));

const plural = (count: number | bigint, one: string, many: string): string => `${count} ${count === 1 ? one : many}`;

const tooSmall = (issue: z.core.$ZodRawIssue<z.core.$ZodIssueTooSmall>): string => {
  const min = issue.minimum;
  switch (issue.origin) {
    case 'array': return min === 1 ? 'must not be an empty list' : `must list at least ${plural(min, 'item', 'items')}`;
    case 'string': return min === 1 ? 'must not be empty' : `must be at least ${plural(min, 'character', 'characters')}`;
    default: return `must be ${issue.inclusive ? 'at least' : 'more than'} ${min}, got ${shown(issue.input)}`;
  }
};

const tooBig = (issue: z.core.$ZodRawIssue<z.core.$ZodIssueTooBig>): string => {
  const max = issue.maximum;
  switch (issue.origin) {
    case 'array': return `must list at most ${plural(max, 'item', 'items')}`;
    case 'string': return `must be at most ${plural(max, 'character', 'characters')}`;
    default: return `must be ${issue.inclusive ? 'at most' : 'less than'} ${max}, got ${shown(issue.input)}`;
  }
};

const badFormat = (issue: z.core.$ZodRawIssue<z.core.$ZodIssueInvalidStringFormat>): string => {
  const given = shown(issue.input);
  const raw = issue as { prefix?: unknown; suffix?: unknown; includes?: unknown };
  switch (issue.format) {
    case 'starts_with': return `${given} must start with ${JSON.stringify(raw.prefix)}`;
    case 'ends_with': return `${given} must end with ${JSON.stringify(raw.suffix)}`;
    case 'includes': return `${given} must contain ${JSON.stringify(raw.includes)}`;
    case 'regex': return `${given} does not match ${issue.pattern ?? 'the expected pattern'}`;
    default: return `${given} is not a valid ${issue.format}`;
  }
};

/** When every alternative of a union failed on type alone, say which types would do. */
const badUnion = (issue: z.core.$ZodRawIssue<z.core.$ZodIssueInvalidUnion>): string | undefined => {
  const expected: string[] = [];
  for (const branch of issue.errors) {
    const only = branch.length === 1 ? branch[0] : undefined;
    if (only?.code !== 'invalid_type' || only.path.length > 0) return undefined;
    expected.push(expectedText(only.expected));
  }
  return expected.length > 0 ? `expected ${expected.join(' or ')}, got ${describeValue(issue.input)}` : undefined;
};

/**
 * Zod error map giving plain-language messages. It is passed per parse, so messages written
 * into the schema itself (which take precedence in zod) are kept as they are.
 */
export const issueMessage: z.core.$ZodErrorMap = (issue) => {
  switch (issue.code) {
    case 'invalid_type':
      return issue.input === undefined
        ? `is required (${expectedText(issue.expected)})`
        : `expected ${expectedText(issue.expected)}, got ${describeValue(issue.input)}`;
    case 'invalid_value':
      return issue.values.length === 1
        ? `must be ${JSON.stringify(issue.values[0])}, got ${shown(issue.input)}`
        : `${shown(issue.input)} is not allowed; use one of: ${issue.values.map(String).join(', ')}`;
    case 'too_small': return tooSmall(issue);
    case 'too_big': return tooBig(issue);
    case 'invalid_format': return badFormat(issue);
    case 'not_multiple_of': return `must be a multiple of ${issue.divisor}`;
    case 'unrecognized_keys': return `unknown ${issue.keys.length === 1 ? 'key' : 'keys'} ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}`;
    case 'invalid_union': return badUnion(issue) ?? 'does not match any accepted form';
    case 'invalid_key': return 'has a key that is not allowed';
    case 'invalid_element': return 'has an entry that is not allowed';
    case 'custom': return 'is not valid';
    default: return undefined;
  }
};
