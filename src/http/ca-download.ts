import type { SyntheticResponse } from './deny-response.js';

/** The well-known name under which the proxy serves its CA to clients going through it (like mitm.it). */
export const CA_DOWNLOAD_HOST = 'portcullis.invalid';

/** Answers a request for the CA download host: the PEM, the DER, or a short page. */
export const caDownload = (pathAndQuery: string, ca: { certPem: string; certDer: Buffer; fingerprint256: string } | undefined): SyntheticResponse => {
  if (!ca) {
    return { status: 404, headers: { 'content-type': 'text/plain; charset=utf-8' }, body: 'This proxy has no CA loaded.\n' };
  }
  const path = pathAndQuery.split('?')[0];
  if (path === '/ca.pem' || path === '/portcullis-ca.pem' || path === '/ca.crt') {
    return {
      status: 200,
      headers: { 'content-type': 'application/x-pem-file', 'content-disposition': 'attachment; filename="portcullis-ca.pem"', 'cache-control': 'no-store' },
      body: ca.certPem,
    };
  }
  if (path === '/ca.der' || path === '/ca.cer') {
    return {
      status: 200,
      headers: { 'content-type': 'application/pkix-cert', 'content-disposition': 'attachment; filename="portcullis-ca.cer"', 'cache-control': 'no-store' },
      body: ca.certDer,
    };
  }
  return {
    status: 200,
    headers: { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' },
    body: `<!doctype html><html><head><title>Portcullis CA</title></head><body>
<h1>Portcullis CA certificate</h1>
<p>SHA-256 fingerprint: <code>${ca.fingerprint256}</code></p>
<ul><li><a href="/ca.pem">ca.pem</a> (PEM: Linux, curl, Python, Node)</li><li><a href="/ca.der">ca.der</a> (DER: Windows, Java)</li></ul>
<pre>curl -x http://PROXY:PORT http://${CA_DOWNLOAD_HOST}/ca.pem -o portcullis-ca.pem
portcullis ca trust     # per-platform steps</pre>
</body></html>
`,
  };
};
