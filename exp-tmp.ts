import { loadOrCreateCertificateAuthority } from './src/tls/certificate-authority.js';
import { writeFileSync } from 'node:fs';
const ca = await loadOrCreateCertificateAuthority({ stateDir: '/tmp/exp/state', leafKey: 'ecdsa', cacheSize: 10, nameConstraints: ['*.example.com', 'a.example.com', 'www.googleapis.com', '10.1.2.3/8', '::1', '127.0.0.1'] });
const leaf = await ca.leafFor({ kind: 'name', host: 'a.example.com' });
const leaf6 = await ca.leafFor({ kind: 'ip', host: '::1', family: 6 });
writeFileSync('/tmp/exp/leaf.pem', leaf.certPem); writeFileSync('/tmp/exp/leaf6.pem', leaf6.certPem);
console.log(ca.fingerprint256, ca.stats(), ca.warnings);
