/**
 * Name resolution for the peers without touching the machine's /etc/hosts: each peer runs in
 * its own mount namespace (`unshare -m`, private propagation) where a copy of /etc/hosts with
 * `127.0.0.1 origin.test` (and S8's h1…h200.origin.test) added is bind-mounted over /etc/hosts. Squid, tinyproxy and
 * mitmproxy then resolve origin.test as they normally would, from /etc/hosts; the machine's
 * file and every other process are unaffected. Portcullis pins the name in its own config.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';

export interface PrivateHosts {
  /** undefined when namespaces work, else why not (peers then cannot resolve origin.test). */
  readonly problem: string | undefined;
  wrap(cmd: string, args: readonly string[]): [string, string[]];
}

export const preparePrivateHosts = (dir: string, names: readonly string[]): PrivateHosts => {
  const name = names[0] ?? 'localhost';
  const file = path.join(dir, 'hosts');
  let original = '';
  try { original = readFileSync('/etc/hosts', 'utf8'); } catch { /* none */ }
  writeFileSync(file, `${original.trimEnd()}\n${names.map((n) => `127.0.0.1 ${n}`).join('\n')}\n`);
  const script = 'mount --bind "$0" /etc/hosts && exec "$@"';
  const probe = spawnSync('unshare', ['-m', '--propagation', 'private', 'sh', '-c', script, file, 'getent', 'hosts', name], { encoding: 'utf8', timeout: 10_000 });
  const works = probe.status === 0 && probe.stdout.includes('127.0.0.1');
  return {
    problem: works ? undefined : `private /etc/hosts unavailable (unshare -m: ${(probe.stderr || probe.error?.message || 'failed').trim().split('\n')[0]})`,
    wrap: (cmd, args) => (works ? ['unshare', ['-m', '--propagation', 'private', 'sh', '-c', script, file, cmd, ...args]] : [cmd, [...args]]),
  };
};
