import { PortcullisError } from '../errors.js';
import { formatProblem, parseConfigText, resolveConfigPaths } from './load-config.js';
import type { ProxyConfig } from './schema.js';

/** The config `portcullis run` uses without `-c`; also a commented starting point for a real one. */
export const DEFAULT_CONFIG_YAML = `# Portcullis: a deny-by-default egress proxy.
# Everything is refused unless a rule below allows it.

listen:
  - address: 127.0.0.1:3128    # point clients here: HTTP_PROXY=http://127.0.0.1:3128 (and HTTPS_PROXY)
    mode: explicit             # explicit | transparent-http | transparent-tls | dns

admin:
  address: 127.0.0.1:9090      # dashboard, metrics, health; off loopback it needs a token

state_dir: ./.portcullis       # the generated CA certificate and key live here

log:
  format: console              # json | squid | console
  file: "-"                    # "-" is stdout; otherwise a file path

# Rules only allow, and their order does not matter: a request passes when any rule
# matches it completely. Matchers a rule leaves out match anything, except ports,
# which default to 80 for plain HTTP and 443 for HTTPS.
rules:
  - name: example-web
    hosts: [example.com, www.example.com]    # exact names; "*.example.com" means any subdomain, not the apex
    ports: [80, 443]

  - name: debian-apt
    hosts: [deb.debian.org, security.debian.org]
    ports: [80]                              # apt fetches over plain HTTP (packages are signed)
    methods: [GET, HEAD]                     # plain HTTP requests are checked one by one

  - name: npm-registry
    hosts: [registry.npmjs.org]
    ports: [443]
    # Without paths or methods, HTTPS is tunnelled as is, never decrypted. Adding
    #   paths: [/left-pad]    (segment-anchored prefixes)
    # makes Portcullis decrypt to check each URL; clients must then trust its CA
    # (see "portcullis ca trust").

default: deny                  # the only value; "dry_run: true" would log "would deny" and let it pass
`;

/**
 * Parses the embedded default config, resolving its relative paths (state_dir) against `baseDir`
 * (the caller's working directory). It is tested to be valid, so a problem here is a bug: it throws.
 */
export const loadDefaultConfig = (baseDir: string): ProxyConfig => {
  const result = parseConfigText(DEFAULT_CONFIG_YAML, '<default config>');
  if (!result.ok) {
    throw new PortcullisError('PCL_ERR_CONFIG_INVALID', result.problems.map(formatProblem).join('\n'));
  }
  return resolveConfigPaths(result.config, baseDir);
};
