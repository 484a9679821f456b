/**
 * Path prefixes for a rule, from the normalized paths requests used: each branch of the path
 * tree is cut at the segment where its requests diverge. On a multi-tenant host the cut never
 * comes before the segment that names the tenant (the bucket, the repository), so one tenant's
 * prefix never covers another's.
 */

interface Node {
  readonly children: Map<string, Node>;
  /** A request's path ends here. */
  end: boolean;
  /** Some path through here has its tenant segment deeper: this node may not be a prefix. */
  mustDescend: boolean;
}

export interface PathPrefixes {
  /** Segment-anchored prefixes; empty when the requests need the whole host ("/" or too many branches). */
  readonly prefixes: readonly string[];
  /** Requests whose path ends above the tenant segment: a prefix for them would cover every tenant. */
  readonly aboveTenant: readonly string[];
}

/** Above this many distinct first segments on a single-tenant host, the whole host is proposed instead. */
export const MAX_TOP_LEVEL_BRANCHES = 8;

const node = (): Node => ({ children: new Map(), end: false, mustDescend: false });

/**
 * A segment holding an encoded slash is data (an object name such as "dir%2Ffile"), and a rule
 * path may not hold one: the path counts up to the segment before it, whose prefix covers it.
 */
const segmentsOf = (path: string): string[] => {
  const segments = path.slice(1).split('/');
  if (segments[segments.length - 1] === '') segments.pop(); // "/a/" is covered by the prefix "/a"
  const encodedSlash = segments.findIndex((segment) => /%2F/i.test(segment));
  if (encodedSlash >= 0) segments.length = encodedSlash;
  return segments;
};

/**
 * `paths` are normalized (normalizePath) without query. `tenantDepth` gives, for a path's
 * segments, how many leading segments must be in its prefix (1 on a single-tenant host).
 */
export const proposePathPrefixes = (
  paths: Iterable<string>, tenantDepth: (segments: readonly string[]) => number, multiTenant: boolean,
): PathPrefixes => {
  const root = node();
  for (const path of paths) {
    const segments = segmentsOf(path);
    const depth = Math.max(1, tenantDepth(segments));
    let at = root;
    segments.forEach((segment, i) => {
      if (i < depth) at.mustDescend = true;
      let next = at.children.get(segment);
      if (next === undefined) {
        next = node();
        at.children.set(segment, next);
      }
      at = next;
    });
    if (segments.length < depth) at.mustDescend = true;
    at.end = true;
  }
  if (!multiTenant && (root.end || root.children.size > MAX_TOP_LEVEL_BRANCHES)) return { prefixes: [], aboveTenant: [] };

  const prefixes: string[] = [];
  const aboveTenant: string[] = [];
  // Iterative walk (a path may have many segments): [node, prefix, depth].
  const stack: Array<[Node, string, number]> = [[root, '', 0]];
  while (stack.length > 0) {
    const [at, prefix, depth] = stack.pop() as [Node, string, number];
    const canCut = depth >= 1 && !at.mustDescend;
    if (canCut && (at.end || at.children.size !== 1)) {
      prefixes.push(prefix);
      continue;
    }
    if (at.end && !canCut) aboveTenant.push(prefix === '' ? '/' : prefix);
    for (const [segment, child] of at.children) stack.push([child, `${prefix}/${segment}`, depth + 1]);
  }
  return { prefixes: prefixes.sort(), aboveTenant: aboveTenant.sort() };
};
