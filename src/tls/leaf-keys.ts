import { generateKeyPair, type KeyObject } from 'node:crypto';

export interface LeafKey {
  readonly publicKey: KeyObject;
  readonly privateKey: KeyObject;
}

export const generateKeyPairAsync = (kind: 'ecdsa' | 'rsa'): Promise<LeafKey> => new Promise((resolve, reject) => {
  const done = (error: Error | null, publicKey: KeyObject, privateKey: KeyObject): void => {
    if (error) reject(error);
    else resolve({ publicKey, privateKey });
  };
  if (kind === 'rsa') generateKeyPair('rsa', { modulusLength: 2048, publicExponent: 0x10001 }, done);
  else generateKeyPair('ec', { namedCurve: 'prime256v1' }, done);
});

/** Fresh leaf keys, generated in libuv's pool; a few are kept ready so a first request rarely waits. */
export const createLeafKeySource = (kind: 'ecdsa' | 'rsa', poolSize: number): (() => Promise<LeafKey>) => {
  if (poolSize <= 0) return () => generateKeyPairAsync(kind);
  const ready: LeafKey[] = [];
  let pending = 0;
  const refill = (): void => {
    while (ready.length + pending < poolSize) {
      pending += 1;
      generateKeyPairAsync(kind).then((key) => { ready.push(key); }, () => undefined).finally(() => { pending -= 1; });
    }
  };
  refill();
  return () => {
    const key = ready.shift();
    refill();
    return key ? Promise.resolve(key) : generateKeyPairAsync(kind);
  };
};
