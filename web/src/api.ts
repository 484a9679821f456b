/**
 * Calls to the admin API with the token, when there is one. A token arrives once in the URL
 * fragment (#token=..., never sent to the server or kept in history) or from the token dialog,
 * and is kept in sessionStorage for this tab only.
 */

const STORAGE_KEY = 'portcullis-admin-token';
let token: string | undefined;
let onUnauthorized: () => void = () => {};

export const initToken = (): void => {
  const match = /(?:^|[#&])token=([^&]+)/.exec(location.hash);
  if (match?.[1]) {
    token = decodeURIComponent(match[1]);
    sessionStorage.setItem(STORAGE_KEY, token);
    history.replaceState(null, '', `${location.pathname}${location.search}#flows`);
    return;
  }
  token = sessionStorage.getItem(STORAGE_KEY) ?? undefined;
};

export const setToken = (value: string): void => {
  token = value.trim();
  sessionStorage.setItem(STORAGE_KEY, token);
};

export const whenUnauthorized = (callback: () => void): void => {
  onUnauthorized = callback;
};

export class ApiError extends Error {
  constructor(readonly status: number, message: string, readonly body: unknown) {
    super(message);
  }
}

export const authHeaders = (): Record<string, string> => (token ? { authorization: `Bearer ${token}` } : {});

export const apiFetch = async (path: string, init: RequestInit = {}): Promise<Response> => {
  const response = await fetch(path, { ...init, headers: { ...authHeaders(), ...(init.headers as Record<string, string> | undefined) } });
  if (response.status === 401) onUnauthorized();
  return response;
};

export const getJson = async <T>(path: string, init: RequestInit = {}): Promise<T> => {
  const response = await apiFetch(path, init);
  const body: unknown = await response.json().catch(() => undefined);
  if (!response.ok) {
    const message = typeof body === 'object' && body !== null && 'error' in body ? String((body as { error: unknown }).error) : response.statusText;
    throw new ApiError(response.status, message, body);
  }
  return body as T;
};

/** Saves an API download (with the token) as a file. */
export const download = async (path: string, fallbackName: string): Promise<void> => {
  const response = await apiFetch(path);
  if (!response.ok) throw new ApiError(response.status, response.statusText, undefined);
  const name = /filename="([^"]+)"/.exec(response.headers.get('content-disposition') ?? '')?.[1] ?? fallbackName;
  const url = URL.createObjectURL(await response.blob());
  const link = document.createElement('a');
  link.href = url;
  link.download = name;
  document.body.appendChild(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
};
