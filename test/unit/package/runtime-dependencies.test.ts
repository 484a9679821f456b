import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';
import { test } from 'node:test';
import * as api from '../../../src/index.js';

// What `npm install --omit=dev` leaves must be enough to run: every package that src/ imports at
// run time (not `import type`) is a runtime dependency, pinned exactly.

const ROOT = path.resolve(import.meta.dirname, '..', '..', '..');
const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>; devDependencies: Record<string, string>;
  main: string; types: string; exports: Record<string, unknown>; bin: Record<string, string>;
};

const sourceFiles = (dir: string): string[] => readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
  const full = path.join(dir, entry.name);
  if (entry.isDirectory()) return sourceFiles(full);
  return entry.name.endsWith('.ts') ? [full] : [];
});

/** Package names a module imports for its run time (`import type` and `import { type X }`-only lines erase). */
const runtimeImports = (source: string): string[] => {
  const names: string[] = [];
  const pattern = /^[ \t]*(?:import|export)[ \t]+(type[ \t]+)?(?:([\w$*{}\s,]+?)\s+from\s+)?['"]([^'"]+)['"]/gm;
  for (const match of source.matchAll(pattern)) {
    const [, typeOnly, clause = '', specifier = ''] = match;
    if (typeOnly) continue;
    const braces = /^\{([^}]*)\}$/.exec(clause.trim());
    if (braces && braces[1]!.split(',').every((part) => part.trim() === '' || part.trim().startsWith('type '))) continue;
    names.push(specifier);
  }
  for (const match of source.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)) names.push(match[1]!);
  return names;
};

const packageName = (specifier: string): string | undefined => {
  if (specifier.startsWith('.') || specifier.startsWith('node:') || builtinModules.includes(specifier)) return undefined;
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
};

test('runtimeImports keeps value imports and drops type-only ones', () => {
  assert.deepEqual(runtimeImports([
    "import { Pool } from 'undici';",
    "import type { Dispatcher } from 'undici-types';",
    "import { type Foo, type Bar } from 'only-types';",
    "import x, { type Y } from 'mixed';",
    "import 'side-effect';",
    "export { a } from './local.js';",
    "const m = await import('lazy');",
  ].join('\n')), ['undici', 'mixed', 'side-effect', './local.js', 'lazy']);
});

test('every package src/ imports at run time is a runtime dependency (not a devDependency)', () => {
  const used = new Map<string, string>();
  for (const file of sourceFiles(path.join(ROOT, 'src'))) {
    for (const specifier of runtimeImports(readFileSync(file, 'utf8'))) {
      const name = packageName(specifier);
      if (name !== undefined && !used.has(name)) used.set(name, path.relative(ROOT, file));
    }
  }
  assert.ok(used.has('undici'), 'the scan found no import of undici: the scanner is broken');
  const missing = [...used].filter(([name]) => !(name in pkg.dependencies)).map(([name, file]) => `${name} (imported by ${file})`);
  assert.deepEqual(missing, []);
});

test('dependencies are pinned to exact versions', () => {
  for (const [name, version] of Object.entries({ ...pkg.dependencies, ...pkg.devDependencies })) {
    assert.match(version, /^\d+\.\d+\.\d+(-[0-9A-Za-z.]+)?$/, `${name}@${version} is not an exact version`);
  }
});

test('main, types and exports name the files src/index.ts and the build produce', () => {
  assert.equal(pkg.main, 'dist/index.js');
  assert.equal(pkg.types, 'dist/index.d.ts');
  // portcullis-source is a condition only this checkout's tsconfig sets (customConditions), so
  // the examples typecheck against src/ before a build; Node and other projects never match it.
  assert.deepEqual(pkg.exports['.'], { 'portcullis-source': './src/index.ts', types: './dist/index.d.ts', default: './dist/index.js' });
  assert.ok(sourceFiles(path.join(ROOT, 'src')).includes(path.join(ROOT, 'src', 'index.ts')));
});

test('the package entry point exports createProxy, the config loader and schema, and the decision and flow types', () => {
  assert.equal(typeof api.createProxy, 'function');
  assert.equal(typeof api.loadConfig, 'function');
  assert.equal(typeof api.parseConfigText, 'function');
  const parsed = api.parseConfigText(api.DEFAULT_CONFIG_YAML, 'default.yaml');
  assert.equal(parsed.ok, true);
  // The types are part of the API: this block fails to compile if one is missing.
  const decisions: api.Decision[] = [
    { verdict: 'allow', reason: 'rule-matched', rule: 'r', intercept: false, wholeHost: true, allowEch: false } satisfies api.AllowDecision,
    { verdict: 'deny', reason: 'no-rule-matched' satisfies api.DenyReason } satisfies api.DenyDecision,
  ];
  const flowVerdict = (flow: api.FlowRecord): string => flow.verdict;
  const proxyStart = (proxy: api.Proxy): Promise<string[]> => proxy.start();
  const deps: api.ProxyDeps = {};
  const config: api.ProxyConfig | undefined = parsed.ok ? parsed.config : undefined;
  assert.equal(decisions.length, 2);
  assert.equal(typeof flowVerdict, 'function');
  assert.equal(typeof proxyStart, 'function');
  assert.deepEqual(deps, {});
  assert.ok(config);
});
