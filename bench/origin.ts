/**
 * The origin: one nginx (worker_processes 1, access_log off) on 127.0.0.1 with a plain and a
 * TLS server block, serving /1k (1024 bytes) and /100m (100 MiB). Its certificate (for
 * origin.test and IP 127.0.0.1) is made with the openssl CLI; all state lives in a temp dir.
 */
import { writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Janitor } from './janitor.js';
import { freePort, pinned, runCommand, startProcess, waitForPort, type CpuPlan, type ManagedProcess } from './procs.js';

export const SMALL_PATH = '/1k';
export const LARGE_PATH = '/100m';
export const LARGE_BYTES = 100 * 1024 * 1024;
export const ORIGIN_NAME = 'origin.test';

export interface Origin {
  readonly httpPort: number;
  readonly httpsPort: number;
  /** CA file that verifies the origin certificate (self-signed: the cert itself). */
  readonly caFile: string;
  readonly process: ManagedProcess;
  readonly commandLines: string[];
  stop(): Promise<void>;
}

const nginxConfig = (dir: string, httpPort: number, httpsPort: number): string => `
worker_processes 1;
worker_rlimit_nofile 65536;
user root;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 16384; }
http {
  access_log off;
  default_type application/octet-stream;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  keepalive_timeout 120s;
  client_body_temp_path ${dir}/client_body;
  server {
    listen 127.0.0.1:${httpPort} backlog=4096;
    server_name ${ORIGIN_NAME} 127.0.0.1;
    root ${dir}/www;
  }
  server {
    listen 127.0.0.1:${httpsPort} ssl backlog=4096;
    server_name ${ORIGIN_NAME} 127.0.0.1;
    ssl_certificate ${dir}/origin.pem;
    ssl_certificate_key ${dir}/origin-key.pem;
    ssl_protocols TLSv1.2 TLSv1.3;
    root ${dir}/www;
  }
}
`;

export const startOrigin = async (janitor: Janitor, cpus: CpuPlan): Promise<Origin> => {
  const dir = janitor.tempDir('origin');
  const www = path.join(dir, 'www');
  mkdirSync(www);
  mkdirSync(path.join(dir, 'client_body'));
  writeFileSync(path.join(www, '1k'), Buffer.alloc(1024, 0x61));
  const commandLines: string[] = [];

  const ddArgs = ['if=/dev/urandom', `of=${path.join(www, '100m')}`, 'bs=1M', 'count=100', 'status=none'];
  const dd = await runCommand('dd', ddArgs, 60_000);
  if (dd.code !== 0) throw new Error(`dd failed: ${dd.stderr}`);
  commandLines.push(`dd ${ddArgs.join(' ')}`);

  const opensslArgs = [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', path.join(dir, 'origin-key.pem'), '-out', path.join(dir, 'origin.pem'), '-days', '2',
    '-subj', `/CN=${ORIGIN_NAME}`, '-addext', `subjectAltName=DNS:${ORIGIN_NAME},IP:127.0.0.1`,
  ];
  const ssl = await runCommand('openssl', opensslArgs, 30_000);
  if (ssl.code !== 0) throw new Error(`openssl failed: ${ssl.stderr}`);
  commandLines.push(`openssl ${opensslArgs.join(' ')}`);

  const httpPort = await freePort();
  let httpsPort = await freePort();
  while (httpsPort === httpPort) httpsPort = await freePort();
  const conf = path.join(dir, 'nginx.conf');
  writeFileSync(conf, nginxConfig(dir, httpPort, httpsPort));
  const [cmd, args] = pinned(cpus, cpus.loadCpu, 'nginx', ['-p', dir, '-c', conf, '-g', 'daemon off;']);
  const proc = startProcess(janitor, 'nginx', cmd, args);
  commandLines.push(proc.commandLine);
  await waitForPort(httpPort, 10_000, proc);
  await waitForPort(httpsPort, 10_000, proc);
  return {
    httpPort,
    httpsPort,
    caFile: path.join(dir, 'origin.pem'),
    process: proc,
    commandLines,
    stop: () => proc.stop(),
  };
};
