/** The proxies compared, in table order. */
import type { ProxyPeer } from './peer.js';
import { mitmproxyPeer } from './peer-mitmproxy.js';
import { portcullisPeer } from './peer-portcullis.js';
import { squidPeer } from './peer-squid.js';
import { tinyproxyPeer } from './peer-tinyproxy.js';

export const ALL_PEERS: readonly ProxyPeer[] = [portcullisPeer, squidPeer, tinyproxyPeer, mitmproxyPeer];
