const PLAIN_KEY = /^[A-Za-z_][A-Za-z0-9_-]*$/;

/** `['rules', 2, 'hosts', 0]` -> `rules[2].hosts[0]`; keys that are not plain names are quoted: `resolve["a.example.com"]`. */
export const formatKeyPath = (path: readonly PropertyKey[]): string =>
  path.reduce<string>((text, segment) => {
    if (typeof segment === 'number') return `${text}[${segment}]`;
    const key = String(segment);
    if (!PLAIN_KEY.test(key)) return `${text}[${JSON.stringify(key)}]`;
    return text === '' ? key : `${text}.${key}`;
  }, '');
