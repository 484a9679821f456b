/**
 * The advice added to "cannot create the CA in DIR" when the reason is the filesystem: what a
 * container or a service manager usually got wrong (no volume mounted at state_dir, a read-only
 * root filesystem, a directory owned by another user).
 */
export const stateDirAdvice = (stateDir: string, code: string | undefined, uid: number | undefined): string => {
  if (code !== 'EACCES' && code !== 'EROFS' && code !== 'EPERM' && code !== 'ENOENT' && code !== 'ENOTDIR') return '';
  const who = uid === undefined ? 'this process' : `this process (uid ${uid})`;
  return `. state_dir (${stateDir}) must be a directory ${who} can write, or one it can create: `
    + 'in a container, mount a writable volume there (docs/kubernetes.md); '
    + 'or bring your own CA with ca.cert and ca.key (docs/ca.md)';
};
