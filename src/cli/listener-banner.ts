import type { ListenerConfig } from '../config/schema.js';

/**
 * How `run` names its bound listeners: an explicit proxy as the URL clients point at
 * (`http://127.0.0.1:3128`), a transparent one by its mode, since no client is pointed at it
 * (`127.0.0.1:3130 (transparent-tls)`). `bound` is in the order of `listen`.
 */
export const describeListeners = (listen: readonly Pick<ListenerConfig, 'mode'>[], bound: readonly string[]): string =>
  bound.map((address, index) => {
    const mode = listen[index]?.mode ?? 'explicit';
    return mode === 'explicit' ? `http://${address}` : `${address} (${mode})`;
  }).join(', ');
