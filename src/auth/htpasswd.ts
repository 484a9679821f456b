/** One problem in a users file, with its line. */
export interface HtpasswdProblem {
  readonly line: number;
  readonly message: string;
}

export type HtpasswdResult =
  | { readonly ok: true; readonly users: ReadonlyMap<string, string> }
  | { readonly ok: false; readonly problems: readonly HtpasswdProblem[] };

const BCRYPT = /^\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}$/;

/**
 * Parses an Apache htpasswd file as made by `htpasswd -B` (bcrypt), the format Squid's
 * basic_ncsa_auth reads. Other hash kinds (MD5 "$apr1$", "{SHA}", crypt) are refused with a
 * message saying how to re-create the entry: they are too weak to protect proxy access.
 */
export const parseHtpasswd = (text: string): HtpasswdResult => {
  const users = new Map<string, string>();
  const problems: HtpasswdProblem[] = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = index + 1;
    const entry = raw.trim();
    if (entry === '' || entry.startsWith('#')) return;
    const colon = entry.indexOf(':');
    if (colon <= 0) {
      problems.push({ line, message: 'expected "user:hash"' });
      return;
    }
    const user = entry.slice(0, colon);
    const hash = entry.slice(colon + 1);
    if (!BCRYPT.test(hash)) {
      problems.push({ line, message: `user "${user}": only bcrypt hashes are accepted; re-create it with: htpasswd -B FILE ${user}` });
      return;
    }
    if (users.has(user)) {
      problems.push({ line, message: `user "${user}" appears twice` });
      return;
    }
    users.set(user, hash);
  });
  return problems.length > 0 ? { ok: false, problems } : { ok: true, users };
};
