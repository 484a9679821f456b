import { X509Certificate } from 'node:crypto';
import type http from 'node:http';
import { certificatePkcs12, trustInstructions } from '../cli/ca-command.js';
import type { CertificateAuthority } from '../tls/certificate-authority.js';
import type { AdminContext } from './admin-context.js';
import { sendError, sendJson, sendText } from './http-replies.js';

const loadedCa = (ctx: AdminContext, res: http.ServerResponse): CertificateAuthority | undefined => {
  try {
    return ctx.proxy.ca();
  } catch {
    sendError(res, 503, 'the CA is not loaded yet');
    return undefined;
  }
};

const describe = (ca: CertificateAuthority): { subject: string; notAfter: string } => {
  const cert = new X509Certificate(ca.certDer);
  return { subject: cert.subject.split('\n').join(', '), notAfter: new Date(cert.validTo).toISOString() };
};

/** The first explicit listener as clients would name it. */
const proxyUrl = (ctx: AdminContext): string | undefined => {
  const listener = ctx.proxy.listeners.find((entry) => entry.config.mode === 'explicit');
  return listener && `http://${listener.address().replace(/^(0\.0\.0\.0|\[::\]):/, 'PROXY_HOST:')}`;
};

/** `GET /api/ca`: the CA's fingerprint, subject, expiry and download links. */
export const caInfo = (ctx: AdminContext, res: http.ServerResponse): void => {
  const ca = loadedCa(ctx, res);
  if (!ca) return;
  sendJson(res, 200, {
    ...describe(ca), fingerprint256: ca.fingerprint256, certFile: ca.certFile, generated: ca.generated,
    downloads: { pem: '/api/ca.pem', der: '/api/ca.der', p12: '/api/ca.p12', trust: '/api/ca/trust' },
  });
};

/** `GET /api/ca.pem|.der|.p12`: the CA certificate (never the key) as a download. */
export const caDownload = (ctx: AdminContext, res: http.ServerResponse, format: 'pem' | 'der' | 'p12'): void => {
  const ca = loadedCa(ctx, res);
  if (!ca) return;
  const [body, type, name] = format === 'pem' ? [ca.certPem, 'application/x-pem-file', 'portcullis-ca.pem']
    : format === 'der' ? [ca.certDer, 'application/pkix-cert', 'portcullis-ca.cer']
    : [certificatePkcs12(ca.certDer, 'portcullis'), 'application/x-pkcs12', 'portcullis-ca.p12'];
  sendText(res, 200, body, type, { 'content-disposition': `attachment; filename="${name}"` });
};

/** `GET /api/ca/trust`: per-platform steps to trust the CA (as `portcullis ca trust` prints). */
export const caTrust = (ctx: AdminContext, res: http.ServerResponse): void => {
  const ca = loadedCa(ctx, res);
  if (!ca) return;
  sendText(res, 200, trustInstructions({ certFile: ca.certFile, fingerprint256: ca.fingerprint256, ...describe(ca), proxy: proxyUrl(ctx), configFlag: '' }));
};
