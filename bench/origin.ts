/**
 * The origin: one nginx (worker_processes 1, access_log off) on 127.0.0.1 with a plain and a
 * TLS server block, serving /1k (1024 bytes) and /100m (100 MiB). Its certificate (ECDSA P-256,
 * for origin.test, *.origin.test and IP 127.0.0.1) is signed by a throw-away origin CA, both made
 * with the openssl CLI; clients and intercepting proxies trust that CA. All state lives in a temp dir.
 */
import { writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Janitor } from './janitor.js';
import { freePort, pinned, runCommand, startProcess, waitForPort, type CpuPlan, type ManagedProcess } from './procs.js';

export const SMALL_PATH = '/1k';
export const LARGE_PATH = '/100m';
export const LARGE_BYTES = 100 * 1024 * 1024;
export const ORIGIN_NAME = 'origin.test';
/** S8's first-contact names: h1.origin.test … hN.origin.test, all pinned to 127.0.0.1. */
export const FIRST_CONTACT_HOSTS = 200;
export const firstContactHost = (i: number): string => `h${i}.${ORIGIN_NAME}`;
export const allOriginNames = (): string[] => [ORIGIN_NAME, ...Array.from({ length: FIRST_CONTACT_HOSTS }, (_, i) => firstContactHost(i + 1))];

export interface Origin {
  readonly httpPort: number;
  readonly httpsPort: number;
  /** The origin CA's certificate: what verifies the origin's certificate. */
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
  # The soak holds TLS tunnels idle (no request yet) for minutes; nginx's default closes them at 60 s.
  client_header_timeout 600s;
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

  // Origin CA, then a leaf it signs (the CA's own key never serves TLS).
  const caArgs = [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', path.join(dir, 'origin-ca-key.pem'), '-out', path.join(dir, 'origin-ca.pem'), '-days', '2',
    '-subj', '/CN=Portcullis bench origin CA', '-addext', 'basicConstraints=critical,CA:TRUE',
    '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ];
  const csrArgs = [
    'req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', path.join(dir, 'origin-key.pem'), '-out', path.join(dir, 'origin.csr'), '-subj', `/CN=${ORIGIN_NAME}`,
  ];
  writeFileSync(path.join(dir, 'origin-ext.cnf'),
    `basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n` +
    `subjectAltName=DNS:${ORIGIN_NAME},DNS:*.${ORIGIN_NAME},IP:127.0.0.1\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n`);
  const signArgs = [
    'x509', '-req', '-in', path.join(dir, 'origin.csr'), '-CA', path.join(dir, 'origin-ca.pem'),
    '-CAkey', path.join(dir, 'origin-ca-key.pem'), '-CAcreateserial', '-days', '2', '-sha256',
    '-extfile', path.join(dir, 'origin-ext.cnf'), '-out', path.join(dir, 'origin.pem'),
  ];
  for (const opensslArgs of [caArgs, csrArgs, signArgs]) {
    const ssl = await runCommand('openssl', opensslArgs, 30_000);
    if (ssl.code !== 0) throw new Error(`openssl ${opensslArgs[0]} failed: ${ssl.stderr}`);
    commandLines.push(`openssl ${opensslArgs.join(' ')}`);
  }

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
    caFile: path.join(dir, 'origin-ca.pem'),
    process: proc,
    commandLines,
    stop: () => proc.stop(),
  };
};
