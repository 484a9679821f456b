#!/usr/bin/env node
// Builds the SO_ORIGINAL_DST addon during `npm install` / `npm ci`. It never fails the install:
// without the addon Portcullis runs as before and transparent listeners only lack the original
// destination (logged once at start). Tries node-gyp (npm's bundled copy) with the headers that
// ship beside this node when they exist, then a plain `cc` as a fallback.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const output = path.join(here, 'build', 'Release', 'original_dst.node');
const say = (text) => process.stderr.write(`portcullis native addon: ${text}\n`);
const TIMEOUT_MS = 180_000;

const tail = (result) => `${result.stdout ?? ''}${result.stderr ?? ''}`.trim().split('\n').slice(-8).join('\n');

const run = (file, args) => spawnSync(file, args, { cwd: here, encoding: 'utf8', timeout: TIMEOUT_MS, stdio: ['ignore', 'pipe', 'pipe'] });

const nodePrefix = path.dirname(path.dirname(process.execPath));
const headers = path.join(nodePrefix, 'include', 'node');
const haveHeaders = existsSync(path.join(headers, 'node_api.h'));

const nodeGyp = () => {
  const candidates = [
    process.env.npm_config_node_gyp,
    path.join(nodePrefix, 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  ];
  return candidates.find((file) => file && existsSync(file));
};

const viaNodeGyp = () => {
  const gyp = nodeGyp();
  if (!gyp) return 'node-gyp not found';
  // With local headers node-gyp needs no download (this may run offline).
  const args = [gyp, 'rebuild', '--loglevel=error', ...(haveHeaders ? [`--nodedir=${nodePrefix}`] : [])];
  const result = run(process.execPath, args);
  if (result.status === 0 && existsSync(output)) return undefined;
  return `node-gyp failed${result.error ? ` (${result.error.message})` : ''}:\n${tail(result)}`;
};

const viaCc = () => {
  if (!haveHeaders) return `no Node-API headers in ${headers}`;
  mkdirSync(path.dirname(output), { recursive: true });
  const result = run(process.env.CC ?? 'cc', ['-shared', '-fPIC', '-O2', '-Wall', `-I${headers}`, '-DNAPI_VERSION=8', '-o', output, 'original_dst.c']);
  if (result.status === 0 && existsSync(output)) return undefined;
  return `cc failed${result.error ? ` (${result.error.message})` : ''}:\n${tail(result)}`;
};

if (process.platform !== 'linux') {
  say('skipped (SO_ORIGINAL_DST is Linux only)');
} else {
  const gypProblem = viaNodeGyp();
  const ccProblem = gypProblem === undefined ? undefined : viaCc();
  if (gypProblem === undefined || ccProblem === undefined) {
    say(`built ${path.relative(process.cwd(), output)}${gypProblem === undefined ? '' : ' (with cc)'}`);
  } else {
    say(`not built; transparent listeners will work without original-destination features.\n  ${gypProblem}\n  ${ccProblem}`);
  }
}
process.exitCode = 0;
