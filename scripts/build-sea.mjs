#!/usr/bin/env node
// `npm run build:sea`: one executable file, build/sea/portcullis, made with Node's single
// executable applications (SEA): src/sea/sea-main.ts and every runtime dependency bundled by
// esbuild into one CommonJS script, the built dashboard (dist/web), package.json and the
// SO_ORIGINAL_DST addon (when it was built) embedded as assets, all injected with postject into
// a copy of the node binary running this script. The default config is compiled in
// (src/config/default-config.ts). Needs `npm run build` first (for dist/web); build:sea does it.
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { inject } from 'postject';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const OUT_DIR = path.join(ROOT, 'build', 'sea');
const OUTPUT = path.join(OUT_DIR, 'portcullis');
const WEB_DIR = path.join(ROOT, 'dist', 'web');
const ADDON = path.join(ROOT, 'native', 'original-dst', 'build', 'Release', 'original_dst.node');
const FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';
const say = (text) => process.stderr.write(`build:sea: ${text}\n`);

if (!existsSync(path.join(WEB_DIR, 'index.html'))) {
  say(`no dashboard build in ${WEB_DIR}: run "npm run build" first`);
  process.exit(1);
}
if (!readFileSync(process.execPath).includes(FUSE)) {
  say(`${process.execPath} has no SEA fuse (a node built without single executable support)`);
  process.exit(1);
}
rmSync(OUT_DIR, { recursive: true, force: true });
mkdirSync(OUT_DIR, { recursive: true });

// 1. One CommonJS script. import.meta.url (used to find files beside the modules) becomes the
//    executable's own URL: the files it looked for are embedded assets in the SEA.
const bundle = path.join(OUT_DIR, 'portcullis.cjs');
await build({
  entryPoints: [path.join(ROOT, 'src', 'sea', 'sea-main.ts')],
  outfile: bundle,
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  minify: false,
  legalComments: 'none',
  logLevel: 'warning',
  define: { 'import.meta.url': '__portcullisModuleUrl' },
  banner: { js: "const __portcullisModuleUrl = require('node:url').pathToFileURL(__filename).href;" },
});

// 2. Assets: the dashboard files, package.json (the version), the native addon if built.
const walk = (dir) => readdirSync(dir).flatMap((name) => {
  const full = path.join(dir, name);
  return statSync(full).isDirectory() ? walk(full) : [full];
});
const assets = {};
for (const file of walk(WEB_DIR)) assets[`web/${path.relative(WEB_DIR, file).split(path.sep).join('/')}`] = file;
assets['package.json'] = path.join(ROOT, 'package.json');
if (existsSync(ADDON)) assets['native/original_dst.node'] = ADDON;
else say('the SO_ORIGINAL_DST addon is not built (node native/original-dst/build.mjs): the executable will run without original destinations');

const seaConfig = path.join(OUT_DIR, 'sea-config.json');
const blob = path.join(OUT_DIR, 'sea-prep.blob');
writeFileSync(seaConfig, JSON.stringify({
  main: bundle, output: blob, disableExperimentalSEAWarning: true, useSnapshot: false, useCodeCache: true, assets,
}, null, 2));
execFileSync(process.execPath, ['--experimental-sea-config', seaConfig], { stdio: ['ignore', 'ignore', 'inherit'] });

// 3. A copy of this node with the blob injected.
copyFileSync(process.execPath, OUTPUT);
chmodSync(OUTPUT, 0o755);
await inject(OUTPUT, 'NODE_SEA_BLOB', readFileSync(blob), { sentinelFuse: FUSE });
for (const file of [bundle, blob, seaConfig]) rmSync(file);
const size = (statSync(OUTPUT).size / 1024 / 1024).toFixed(0);
say(`built ${path.relative(process.cwd(), OUTPUT)} (${size} MiB; node ${process.version}; ${Object.keys(assets).length} embedded files${existsSync(ADDON) ? ', with the SO_ORIGINAL_DST addon' : ''})`);
