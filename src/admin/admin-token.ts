import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PortcullisError } from '../errors.js';

export const ADMIN_TOKEN_FILE = 'admin-token';
const MIN_TOKEN_CHARS = 16;

export interface AdminTokenOptions {
  /** `admin.token` from the config. */
  readonly configured?: string;
  readonly stateDir: string;
  /** True when the admin listener is reachable off loopback: then there must be a token. */
  readonly required: boolean;
}

export interface AdminToken {
  readonly token?: string;
  /** Where it came from; 'generated' means this call created the file (print it once). */
  readonly source: 'config' | 'file' | 'generated' | 'none';
  readonly file?: string;
}

const readToken = async (file: string): Promise<string | undefined> => {
  try {
    const token = (await readFile(file, 'utf8')).trim();
    if (token.length < MIN_TOKEN_CHARS) {
      throw new PortcullisError('PCL_ERR_CONFIG_READ', `${file}: the admin token must be at least ${MIN_TOKEN_CHARS} characters; delete the file to generate a new one`);
    }
    return token;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error instanceof PortcullisError ? error
      : new PortcullisError('PCL_ERR_CONFIG_READ', `cannot read the admin token ${file}: ${(error as Error).message}`, { cause: error });
  }
};

/**
 * The token the admin API asks of clients off loopback: `admin.token` when set, else the one
 * in state_dir/admin-token, created (mode 0600) on the first run that needs it. Never logged.
 */
export const resolveAdminToken = async (options: AdminTokenOptions): Promise<AdminToken> => {
  if (options.configured !== undefined) return { token: options.configured, source: 'config' };
  if (!options.required) return { source: 'none' };
  const file = path.join(options.stateDir, ADMIN_TOKEN_FILE);
  const existing = await readToken(file);
  if (existing !== undefined) return { token: existing, source: 'file', file };
  const token = randomBytes(24).toString('base64url');
  try {
    await mkdir(options.stateDir, { recursive: true, mode: 0o700 });
    await writeFile(file, `${token}\n`, { mode: 0o600, flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
      const raced = await readToken(file);
      if (raced !== undefined) return { token: raced, source: 'file', file };
    }
    throw new PortcullisError('PCL_ERR_CONFIG_READ', `cannot create the admin token ${file}: ${(error as Error).message}`, { cause: error });
  }
  return { token, source: 'generated', file };
};
