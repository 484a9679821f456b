import { isAlias, isCollection, isMap, isNode, isScalar, isSeq, type Document } from 'yaml';

export interface YamlLocation {
  /** Source offset of the value at the path, or of its key when the value is a collection or empty. */
  readonly offset: number;
  /** Source offset of the last key on the path, when the path ends at a mapping key. */
  readonly keyOffset: number | undefined;
  /** False when the path leaves the document; the offsets then point at the nearest existing ancestor. */
  readonly found: boolean;
}

const start = (node: unknown): number | undefined => (isNode(node) ? node.range?.[0] : undefined);

const keyText = (key: unknown): string | undefined => (isScalar(key) ? String(key.value) : undefined);

const follow = (node: unknown, doc: Document): unknown => (isAlias(node) ? node.resolve(doc) : node);

/** Finds where a config path (as zod reports it) is written in the YAML source. */
export const locateYamlPath = (doc: Document, path: readonly PropertyKey[]): YamlLocation => {
  let node: unknown = doc.contents;
  let offset = start(node) ?? 0;
  let keyOffset: number | undefined;
  for (const segment of path) {
    node = follow(node, doc);
    if (isMap(node)) {
      const pair = node.items.find((item) => keyText(item.key) === String(segment));
      if (pair === undefined) return { offset, keyOffset, found: false };
      keyOffset = start(pair.key) ?? offset;
      node = pair.value;
      const valueStart = start(node);
      // A block list or mapping starts on the line after its key; the key's line reads better.
      offset = valueStart === undefined || isCollection(node) ? keyOffset : valueStart;
    } else if (isSeq(node) && typeof segment === 'number' && node.items[segment] !== undefined) {
      node = node.items[segment];
      offset = start(node) ?? offset;
      keyOffset = undefined;
    } else {
      return { offset, keyOffset, found: false };
    }
  }
  return { offset, keyOffset, found: true };
};

const contains = (node: unknown, offset: number): boolean => {
  const range = isNode(node) ? node.range : undefined;
  if (range === undefined || range === null) return false;
  const end = isCollection(node) ? range[2] : Math.max(range[1], range[0] + 1);
  return range[0] <= offset && offset < end;
};

/** The config path of the key or value written at `offset` (e.g. where YAML reports a duplicate key). */
export const yamlPathAtOffset = (doc: Document, offset: number): (string | number)[] => {
  const path: (string | number)[] = [];
  let node: unknown = doc.contents;
  for (;;) {
    if (isMap(node)) {
      const pair = node.items.find((item) => contains(item.key, offset) || contains(item.value, offset));
      const key = pair === undefined ? undefined : keyText(pair.key);
      if (pair === undefined || key === undefined) return path;
      path.push(key);
      if (contains(pair.key, offset)) return path;
      node = pair.value;
    } else if (isSeq(node)) {
      const index = node.items.findIndex((item) => contains(item, offset));
      if (index < 0) return path;
      path.push(index);
      node = node.items[index];
    } else {
      return path;
    }
  }
};
