import type { SyntheticResponse } from './deny-response.js';

/** Answer for a request sent to the proxy as if it were a web server (origin-form). */
export const helpPage = (listener: string): SyntheticResponse => ({
  status: 400,
  headers: { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', 'x-portcullis-reason': 'not-a-proxy-request' },
  body: `<!doctype html>
<html><head><title>Portcullis</title></head>
<body>
<h1>This is Portcullis, an egress proxy</h1>
<p>You reached the proxy port directly. Send requests <em>through</em> it instead:</p>
<pre>
export http_proxy=http://${listener}
export https_proxy=http://${listener}
curl -x http://${listener} https://example.com/
</pre>
<p>Every destination must be allowed by a rule in the proxy's configuration; everything else is denied with a reason.</p>
</body></html>
`,
});
