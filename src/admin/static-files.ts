import { readFile } from 'node:fs/promises';
import type http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { dashboardAssetKey, embeddedAsset } from '../sea/embedded-assets.js';
import { BASE_HEADERS, sendText } from './http-replies.js';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
};

/** The page may load only its own scripts and styles and talk only to this server. */
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/**
 * Where the built dashboard is: dist/web beside dist/admin when running the build,
 * or the repository's dist/web when running from source (tests under tsx).
 */
export const defaultDashboardDir = (): string => {
  const here = path.dirname(fileURLToPath(import.meta.url));
  return path.basename(path.dirname(here)) === 'dist' ? path.join(here, '..', 'web') : path.join(here, '..', '..', 'dist', 'web');
};

export interface StaticFiles {
  /** Answers GET/HEAD for a dashboard file; the SPA's index for "/". */
  serve(req: http.IncomingMessage, res: http.ServerResponse, pathname: string): Promise<void>;
}

/**
 * Serves the built dashboard from `dir`, read into memory on first use (it is small and fixed).
 * In the single executable the files are its embedded assets (`web/...`) instead.
 */
export const createStaticFiles = (dir: string): StaticFiles => {
  const root = path.resolve(dir);
  const cache = new Map<string, Promise<Buffer | undefined>>();
  const load = (file: string): Promise<Buffer | undefined> => {
    let entry = cache.get(file);
    if (entry === undefined) {
      // Misses are not kept: the cache holds only the dashboard's own files.
      const embedded = embeddedAsset(dashboardAssetKey(path.relative(root, file)));
      entry = (embedded ? Promise.resolve(embedded) : readFile(file)).catch(() => {
        cache.delete(file);
        return undefined;
      });
      cache.set(file, entry);
    }
    return entry;
  };
  return {
    async serve(_req, res, pathname) {
      let name: string;
      try {
        name = decodeURIComponent(pathname === '/' ? '/index.html' : pathname);
      } catch {
        sendText(res, 400, 'bad path\n');
        return;
      }
      const file = path.resolve(root, `.${path.posix.normalize(name)}`);
      const type = TYPES[path.extname(file)];
      if (!file.startsWith(root + path.sep) || name.includes('\0') || type === undefined) {
        sendText(res, 404, 'not found\n');
        return;
      }
      const body = await load(file);
      if (body === undefined) {
        if (name === '/index.html') {
          sendText(res, 503, `The dashboard is not built (no ${file}). Run "npm run build"; the API under /api/ works without it.\n`);
        } else {
          sendText(res, 404, 'not found\n');
        }
        return;
      }
      res.writeHead(200, {
        ...BASE_HEADERS, 'content-type': type, 'content-length': String(body.length), 'content-security-policy': CSP,
        'cache-control': 'no-cache',
      });
      res.end(res.req?.method === 'HEAD' ? undefined : body);
    },
  };
};
