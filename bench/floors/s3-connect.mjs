// S3 floor (docs/performance.md, "Where the microseconds go"): the least a Node CONNECT proxy
// does per tunnel: node's HTTP server parses the CONNECT, net.connect, the 200, pipe both ways,
// one JSON log line per tunnel. No policy, no address check. Listens on 127.0.0.1:PORT (18090).
//   PORT=18090 LOG=/tmp/connect.log taskset -c 0 node bench/floors/s3-connect.mjs
import http from 'node:http'; import net from 'node:net'; import fs from 'node:fs';
const log = fs.createWriteStream(process.env.LOG ?? '/dev/null', { flags: 'a' });
const server = http.createServer();
server.on('connect', (req, client, head) => {
  const [host, port] = req.url.split(':');
  const upstream = net.connect({ host: '127.0.0.1', port: Number(port), noDelay: true }, () => {
    client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
    if (head.length) upstream.write(head);
    client.pipe(upstream); upstream.pipe(client);
  });
  const done = () => { client.destroy(); upstream.destroy(); };
  upstream.on('error', done); client.on('error', done);
  upstream.on('close', () => { done(); log.write(`${JSON.stringify({ t: new Date().toISOString(), host, port, up: upstream.bytesWritten, down: upstream.bytesRead })}\n`); });
});
server.listen(Number(process.env.PORT ?? 18090), '127.0.0.1');
