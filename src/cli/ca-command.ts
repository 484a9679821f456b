import { createHash, createHmac, randomBytes, X509Certificate } from 'node:crypto';
import { ContentInfo, id_data } from '@peculiar/asn1-cms';
import { AuthenticatedSafe, CertBag, MacData, PFX, PKCS12Attribute, SafeBag, SafeContents, id_certBag, id_x509Certificate } from '@peculiar/asn1-pfx';
import { FriendlyName, id_pkcs9_at_friendlyName } from '@peculiar/asn1-pkcs9';
import { DigestInfo, id_sha1 } from '@peculiar/asn1-rsa';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import { AlgorithmIdentifier } from '@peculiar/asn1-x509';
import { formatProblem, loadConfig } from '../config/load-config.js';
import { loadDefaultConfig } from '../config/default-config.js';
import type { ProxyConfig } from '../config/schema.js';
import { isPortcullisError } from '../errors.js';
import { caOptionsFromConfig, loadOrCreateCertificateAuthority, type CertificateAuthority } from '../tls/certificate-authority.js';
import { EXIT_FAILURE, EXIT_OK, type CliIo } from './cli-io.js';

export type CaExportFormat = 'pem' | 'der' | 'p12';
export const CA_EXPORT_FORMATS: readonly CaExportFormat[] = ['pem', 'der', 'p12'];

/** Where clients going through the proxy can download the CA (served by the proxy itself). */
const CA_DOWNLOAD_URL = 'http://portcullis.invalid/ca.pem';

// ---- PKCS#12 holding one trusted certificate, no key ---------------------------------------

/** Java's "trusted for" bag attribute; without it keytool and the JDK ignore a certificate that has no key. */
const ORACLE_TRUSTED_KEY_USAGE = '2.16.840.1.113894.746875.1.1';
/** DER of OBJECT IDENTIFIER 2.5.29.37.0 (anyExtendedKeyUsage), the attribute's usual value. */
const ANY_EXTENDED_KEY_USAGE_DER = Buffer.from('0604551d2500', 'hex');
const MAC_ITERATIONS = 2048;

/** RFC 7292 appendix B.2 key derivation, with SHA-1 (the MAC every importer accepts). */
const pkcs12Kdf = (password: Buffer, salt: Buffer, id: number, iterations: number, size: number): Buffer => {
  const u = 20;
  const v = 64;
  const fill = (data: Buffer): Buffer => {
    const length = v * Math.ceil(data.length / v);
    const out = Buffer.alloc(length);
    for (let i = 0; i < length; i += 1) out[i] = data[i % data.length] as number;
    return out;
  };
  const input = Buffer.concat([fill(salt), fill(password)]);
  const blocks: Buffer[] = [];
  for (let produced = 0; produced < size; produced += u) {
    let a = createHash('sha1').update(Buffer.alloc(v, id)).update(input).digest();
    for (let i = 1; i < iterations; i += 1) a = createHash('sha1').update(a).digest();
    blocks.push(a);
    const b = fill(a);
    for (let offset = 0; offset < input.length; offset += v) {
      let carry = 1;
      for (let i = v - 1; i >= 0; i -= 1) {
        const sum = (input[offset + i] as number) + (b[i] as number) + carry;
        input[offset + i] = sum & 0xff;
        carry = sum >> 8;
      }
    }
  }
  return Buffer.concat(blocks).subarray(0, size);
};

// PKCS12Attribute's constructor (asn1-pfx 2.11.1) drops its parameters, so set the fields after construction.
const bagAttribute = (attrId: string, value: ArrayBuffer): PKCS12Attribute =>
  Object.assign(new PKCS12Attribute(), { attrId, attrValues: [value] });

const dataContentInfo = (der: ArrayBuffer): ContentInfo =>
  new ContentInfo({ contentType: id_data, content: AsnConvert.serialize(new OctetString(der)) });

/**
 * A PKCS#12 file holding only `certDer`, marked trusted, with an empty password (an unencrypted
 * bag, and a SHA-1 HMAC keyed from the empty password so Windows, macOS and Java accept it).
 */
export const certificatePkcs12 = (certDer: Buffer, friendlyName: string): Buffer => {
  const bag = new SafeBag({
    bagId: id_certBag,
    bagValue: AsnConvert.serialize(new CertBag({ certId: id_x509Certificate, certValue: AsnConvert.serialize(new OctetString(certDer)) })),
    bagAttributes: [
      bagAttribute(id_pkcs9_at_friendlyName, AsnConvert.serialize(new FriendlyName(friendlyName))),
      bagAttribute(ORACLE_TRUSTED_KEY_USAGE, new Uint8Array(ANY_EXTENDED_KEY_USAGE_DER).buffer),
    ],
  });
  const authSafe = Buffer.from(AsnConvert.serialize(new AuthenticatedSafe([dataContentInfo(AsnConvert.serialize(new SafeContents([bag])))])));
  const salt = randomBytes(8);
  const emptyPassword = Buffer.alloc(2); // BMPString "" with its two-byte terminator
  const macKey = pkcs12Kdf(emptyPassword, salt, 3, MAC_ITERATIONS, 20);
  const pfx = new PFX({
    version: 3,
    authSafe: dataContentInfo(new Uint8Array(authSafe).buffer),
    macData: new MacData({
      mac: new DigestInfo({
        digestAlgorithm: new AlgorithmIdentifier({ algorithm: id_sha1, parameters: null }),
        digest: new OctetString(createHmac('sha1', macKey).update(authSafe).digest()),
      }),
      macSalt: new OctetString(salt),
      iterations: MAC_ITERATIONS,
    }),
  });
  return Buffer.from(AsnConvert.serialize(pfx));
};

// ---- loading -------------------------------------------------------------------------------

const loadCa = async (configFile: string | undefined, io: CliIo): Promise<{ config: ProxyConfig; ca: CertificateAuthority } | undefined> => {
  let config: ProxyConfig;
  if (configFile === undefined) {
    config = loadDefaultConfig(io.cwd);
  } else {
    const result = await loadConfig(configFile);
    if (!result.ok) {
      for (const problem of result.problems) io.stderr.write(`${formatProblem(problem)}\n`);
      io.stderr.write(`portcullis: ${configFile} has problems; no CA was loaded\n`);
      return undefined;
    }
    config = result.config;
  }
  try {
    const ca = await loadOrCreateCertificateAuthority({ ...caOptionsFromConfig(config), rsaPoolSize: 0 });
    for (const warning of ca.warnings) io.stderr.write(`portcullis: warning: ${warning}\n`);
    if (ca.created) io.stderr.write(`portcullis: created a new CA: ${ca.certFile} (key ${ca.keyFile}, mode 0600)\n`);
    return { config, ca };
  } catch (error) {
    if (!isPortcullisError(error)) throw error;
    io.stderr.write(`portcullis: ${error.message}\n`);
    return undefined;
  }
};

/** `portcullis ca export [-c FILE] [--format pem|der|p12]`: the CA certificate on stdout. */
export const caExportCommand = async (options: { config?: string; format: CaExportFormat }, io: CliIo): Promise<number> => {
  const loaded = await loadCa(options.config, io);
  if (!loaded) return EXIT_FAILURE;
  const { ca } = loaded;
  const output = options.format === 'pem' ? ca.certPem : options.format === 'der' ? ca.certDer : certificatePkcs12(ca.certDer, 'portcullis');
  await new Promise<void>((resolve, reject) => io.stdout.write(output, (error) => (error ? reject(error) : resolve())));
  return EXIT_OK;
};

// ---- trust instructions --------------------------------------------------------------------

/** The proxy URL clients use: the first explicit listener, with a placeholder for wildcard addresses. */
const proxyUrl = (config: ProxyConfig): string | undefined => {
  const listener = config.listen.find((entry) => entry.mode === 'explicit');
  if (!listener) return undefined;
  const address = listener.address.replace(/^(0\.0\.0\.0|\[::\]):/, 'PROXY_HOST:');
  return `http://${address}`;
};

const shellQuote = (text: string): string => (/^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`);

/** Paste-ready steps to trust the CA, for each platform and common tool. Also the body of docs/ca.md. */
export const trustInstructions = (input: { certFile: string; fingerprint256: string; subject: string; notAfter: string; proxy: string | undefined; configFlag: string }): string => {
  const ca = shellQuote(input.certFile);
  const proxy = input.proxy;
  return `Portcullis CA
  certificate  ${input.certFile}
  subject      ${input.subject}
  valid until  ${input.notAfter}
  SHA-256      ${input.fingerprint256}

Clients trust this certificate to accept the certificates Portcullis mints for the hosts it
inspects. Check the SHA-256 fingerprint on every copy before trusting it:
  openssl x509 -in portcullis-ca.pem -noout -fingerprint -sha256

Get the certificate
  # on this host
  cp ${ca} portcullis-ca.pem
  portcullis ca export${input.configFlag} > portcullis-ca.pem              # PEM (also --format der | p12)
${proxy === undefined
    ? '  # (no explicit listener is configured, so clients cannot download it through the proxy)\n'
    : `  # from any client that can reach the proxy (served by Portcullis itself, plain HTTP)
  curl -x ${proxy} ${CA_DOWNLOAD_URL} -o portcullis-ca.pem
`}
The commands below use ${ca}; on another machine use your portcullis-ca.pem instead.

Debian / Ubuntu
  sudo cp ${ca} /usr/local/share/ca-certificates/portcullis.crt
  sudo update-ca-certificates

RHEL / Fedora / CentOS / Amazon Linux
  sudo cp ${ca} /etc/pki/ca-trust/source/anchors/portcullis.crt
  sudo update-ca-trust

Alpine
  sudo apk add ca-certificates
  sudo cp ${ca} /usr/local/share/ca-certificates/portcullis.crt
  sudo update-ca-certificates

macOS
  sudo security add-trusted-cert -d -r trustRoot -k /Library/Keychains/System.keychain ${ca}

Windows (copy the file as portcullis.crt; elevated prompt)
  certutil -addstore -f Root portcullis.crt
  # or PowerShell:
  Import-Certificate -FilePath portcullis.crt -CertStoreLocation Cert:\\LocalMachine\\Root

Java (JDK 9+; uses its own cacerts, not the system store)
  sudo keytool -importcert -cacerts -alias portcullis -file ${ca} -noprompt -storepass changeit
  # or a separate truststore: portcullis ca export${input.configFlag} --format p12 > portcullis.p12
  #   java -Djavax.net.ssl.trustStore=portcullis.p12 -Djavax.net.ssl.trustStoreType=PKCS12 ...

Tools with their own CA bundle
  A bundle setting REPLACES the tool's default roots, and hosts Portcullis tunnels without
  inspecting still present their public certificates. Give such tools a bundle holding both:
    cat /etc/ssl/certs/ca-certificates.crt ${ca} > portcullis-bundle.pem   # Debian/Ubuntu/Alpine
    cat /etc/pki/tls/certs/ca-bundle.crt ${ca} > portcullis-bundle.pem    # RHEL/Fedora
    cat "$(python3 -m certifi)" ${ca} > portcullis-bundle.pem               # certifi's bundle (pip install certifi)

Python requests / pip
  export REQUESTS_CA_BUNDLE="$PWD/portcullis-bundle.pem"   # replaces certifi's bundle: use the combined file
  export PIP_CERT="$PWD/portcullis-bundle.pem"
  export SSL_CERT_FILE="$PWD/portcullis-bundle.pem"        # Python's ssl module and urllib

Node.js
  export NODE_EXTRA_CA_CERTS=${ca}          # added to Node's built-in roots, read at startup

curl
  curl --cacert portcullis-bundle.pem https://example.com/     # --cacert replaces the default bundle
  export CURL_CA_BUNDLE="$PWD/portcullis-bundle.pem"

AWS CLI
  export AWS_CA_BUNDLE="$PWD/portcullis-bundle.pem"
  aws configure set ca_bundle "$PWD/portcullis-bundle.pem"      # writes ca_bundle in ~/.aws/config

gcloud
  gcloud config set core/custom_ca_certs_file "$PWD/portcullis-bundle.pem"

Then send traffic through the proxy${proxy === undefined ? '' : `
  export HTTP_PROXY=${proxy} HTTPS_PROXY=${proxy} http_proxy=${proxy} https_proxy=${proxy}`}
`;
};

/** `portcullis ca trust [-c FILE]`: how to trust the CA on each platform, with its fingerprint. */
export const caTrustCommand = async (options: { config?: string }, io: CliIo): Promise<number> => {
  const loaded = await loadCa(options.config, io);
  if (!loaded) return EXIT_FAILURE;
  const { config, ca } = loaded;
  const cert = new X509Certificate(ca.certDer);
  io.stdout.write(trustInstructions({
    certFile: ca.certFile,
    fingerprint256: ca.fingerprint256,
    subject: cert.subject.split('\n').join(', '),
    notAfter: new Date(cert.validTo).toISOString(),
    proxy: proxyUrl(config),
    configFlag: options.config === undefined ? '' : ` -c ${shellQuote(options.config)}`,
  }));
  return EXIT_OK;
};
