import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import { lintDockerfile, parseDockerfile } from '../../helpers/dockerfile-lint.js';

const ROOT = path.resolve(import.meta.dirname, '..', '..', '..');
const DOCKERFILE = readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
const CONTAINER_CONFIG = parse(readFileSync(path.join(ROOT, 'deploy', 'container', 'portcullis.yaml'), 'utf8')) as {
  listen: { address: string }[]; admin: { address: string }; state_dir: string; log: { file: string };
};

const rulesFor = (text: string): string[] => lintDockerfile(text).map((finding) => finding.rule).sort();

const BAD: readonly (readonly [rule: string, dockerfile: string])[] = [
  ['DL3006', 'FROM node\nUSER 1\nHEALTHCHECK CMD ["true"]\n'],
  ['DL3007', 'FROM node:latest\nUSER 1\nHEALTHCHECK CMD ["true"]\n'],
  ['DL3002', 'FROM node:20\nUSER root\nHEALTHCHECK CMD ["true"]\n'],
  ['DL3002', 'FROM node:20\nHEALTHCHECK CMD ["true"]\n'],
  ['DL3057', 'FROM node:20\nUSER 1\n'],
  ['DL3000', 'FROM node:20\nWORKDIR app\nUSER 1\nHEALTHCHECK CMD ["true"]\n'],
  ['DL3003', 'FROM node:20\nRUN cd /app && make\nUSER 1\nHEALTHCHECK CMD ["true"]\n'],
  ['DL3004', 'FROM node:20\nRUN sudo make\nUSER 1\nHEALTHCHECK CMD ["true"]\n'],
  ['DL3020', 'FROM node:20\nADD src /app/src\nUSER 1\nHEALTHCHECK CMD ["true"]\n'],
  ['DL3022', 'FROM node:20\nCOPY --from=builder /a /b\nUSER 1\nHEALTHCHECK CMD ["true"]\n'],
  ['DL3024', 'FROM node:20 AS a\nFROM node:20 AS a\nUSER 1\nHEALTHCHECK CMD ["true"]\n'],
  ['DL3025', 'FROM node:20\nUSER 1\nHEALTHCHECK CMD ["true"]\nENTRYPOINT portcullis run\n'],
  ['DL3029', 'FROM --platform=linux/amd64 node:20\nUSER 1\nHEALTHCHECK CMD ["true"]\n'],
  ['DL3045', 'FROM node:20\nCOPY a.txt b.txt\nUSER 1\nHEALTHCHECK CMD ["true"]\n'],
  ['DL3059', 'FROM node:20\nRUN a\nRUN b\nUSER 1\nHEALTHCHECK CMD ["true"]\n'],
  ['DL4000', 'FROM node:20\nMAINTAINER me\nUSER 1\nHEALTHCHECK CMD ["true"]\n'],
  ['DL4003', 'FROM node:20\nUSER 1\nHEALTHCHECK CMD ["true"]\nCMD ["a"]\nCMD ["b"]\n'],
  ['DL4004', 'FROM node:20\nUSER 1\nHEALTHCHECK CMD ["true"]\nENTRYPOINT ["a"]\nENTRYPOINT ["b"]\n'],
  ['DL4006', 'FROM node:20\nRUN curl x | sh\nUSER 1\nHEALTHCHECK CMD ["true"]\n'],
  ['DL3011', 'FROM node:20\nEXPOSE 70000\nUSER 1\nHEALTHCHECK CMD ["true"]\n'],
  ['DL3016', 'FROM node:20\nRUN npm install -g left-pad\nUSER 1\nHEALTHCHECK CMD ["true"]\n'],
  ['DL3015', 'FROM node:20\nRUN apt-get install -y curl=7 && rm -rf /var/lib/apt/lists/*\nUSER 1\nHEALTHCHECK CMD ["true"]\n'],
  ['DL3008', 'FROM node:20\nRUN apt-get install -y --no-install-recommends curl && rm -rf /var/lib/apt/lists/*\nUSER 1\nHEALTHCHECK CMD ["true"]\n'],
  ['DL3009', 'FROM node:20\nRUN apt-get install -y --no-install-recommends curl=7\nUSER 1\nHEALTHCHECK CMD ["true"]\n'],
  ['DL3014', 'FROM node:20\nRUN apt-get install --no-install-recommends curl=7 && rm -rf /var/lib/apt/lists/*\nUSER 1\nHEALTHCHECK CMD ["true"]\n'],
];

for (const [rule, text] of BAD) {
  test(`the linter reports ${rule} for ${JSON.stringify(text.split('\n').find((l) => !/^(FROM node:20|USER 1|HEALTHCHECK)/.test(l)) ?? text.split('\n')[0])}`, () => {
    assert.deepEqual(rulesFor(text), [rule]);
  });
}

test('a clean multi-stage file passes the linter', () => {
  assert.deepEqual(rulesFor('FROM node:20 AS build\nWORKDIR /s\nCOPY . .\nRUN npm ci\nFROM node:20-slim\nCOPY --from=build /s /s\nUSER 10001\nHEALTHCHECK CMD ["true"]\nENTRYPOINT ["x"]\n'), []);
});

test('the project Dockerfile passes every hadolint rule checked', () => {
  assert.deepEqual(lintDockerfile(DOCKERFILE), []);
});

const stagesOf = (text: string): { from: string; body: ReturnType<typeof parseDockerfile> }[] => {
  const stages: { from: string; body: ReturnType<typeof parseDockerfile> }[] = [];
  for (const instruction of parseDockerfile(text)) {
    if (instruction.keyword === 'FROM') stages.push({ from: instruction.args, body: [] });
    else stages.at(-1)?.body.push(instruction);
  }
  return stages;
};

test('the image is multi-stage, every base pinned to an exact version, and the runtime stage has no compiler or package install', () => {
  const stages = stagesOf(DOCKERFILE);
  assert.ok(stages.length >= 2);
  for (const stage of stages) assert.match(stage.from, /^node:\d+\.\d+\.\d+-[a-z]+(-slim)?(@sha256:[0-9a-f]{64})?\s+AS\s+\w+$/);
  const runtime = stages.at(-1)!;
  assert.match(runtime.from, /-slim/);
  for (const run of runtime.body.filter((i) => i.keyword === 'RUN')) assert.doesNotMatch(run.args, /apt-get|npm (ci|install)|gcc|make/);
});

test('the runtime runs as a numeric non-root user, with state on a volume that matches the baked config', () => {
  const runtime = stagesOf(DOCKERFILE).at(-1)!.body;
  const user = runtime.filter((i) => i.keyword === 'USER').at(-1)!.args;
  assert.match(user, /^[1-9]\d*:[1-9]\d*$/);
  const volumes = runtime.filter((i) => i.keyword === 'VOLUME').flatMap((i) => JSON.parse(i.args) as string[]);
  assert.deepEqual(volumes, [CONTAINER_CONFIG.state_dir]);
  assert.ok(runtime.some((i) => i.keyword === 'RUN' && i.args.includes(`chown ${user} ${CONTAINER_CONFIG.state_dir}`)), 'the state dir is not owned by the runtime user');
  assert.equal(CONTAINER_CONFIG.log.file, '-', 'with a read-only root filesystem the access log goes to stdout');
});

test('HEALTHCHECK asks /healthz on the admin port, EXPOSE names the listener and admin ports, ENTRYPOINT is exec form', () => {
  const runtime = stagesOf(DOCKERFILE).at(-1)!.body;
  const health = runtime.find((i) => i.keyword === 'HEALTHCHECK')!.args;
  const adminPort = CONTAINER_CONFIG.admin.address.split(':').at(-1);
  assert.match(health, new RegExp(`http://127\\.0\\.0\\.1:${adminPort}/healthz`));
  assert.match(health, /CMD \[/);
  const exposed = runtime.filter((i) => i.keyword === 'EXPOSE').flatMap((i) => i.args.split(/\s+/));
  assert.deepEqual(exposed.sort(), [...CONTAINER_CONFIG.listen.map((l) => l.address.split(':').at(-1)!), adminPort!].sort());
  const entrypoint = JSON.parse(runtime.find((i) => i.keyword === 'ENTRYPOINT')!.args) as string[];
  assert.deepEqual(entrypoint, ['portcullis', 'run']);
  const stop = runtime.find((i) => i.keyword === 'STOPSIGNAL');
  assert.ok(stop === undefined || stop.args === 'SIGTERM');
});

test('.dockerignore keeps local state (CA keys), dependencies, builds and git out of the build context', () => {
  const ignored = readFileSync(path.join(ROOT, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim());
  for (const entry of ['.portcullis', 'node_modules', 'dist', 'build', '.git']) assert.ok(ignored.includes(entry), `.dockerignore lacks ${entry}`);
});
