/**
 * Upstream and peer I/O on Workers. Upstreams are DoH servers reached with fetch (a Worker has
 * no UDP, and the config refuses UDP/TCP servers before this is asked). Peers are the cache
 * shards: the same DoH request, sent to the shard's Durable Object through its binding.
 */

import { DNS_MESSAGE } from '../../core/doh.js';
import { UpstreamError, type UpstreamTransport } from '../../core/upstream.js';
import { shardOfUrl } from './workers-config.js';

const noSockets = () => Promise.reject(new UpstreamError('Workers have no UDP or TCP sockets; use a DoH upstream'));

async function post(send: (init: RequestInit) => Promise<Response>, msg: Uint8Array, timeoutMs: number, headers?: Record<string, string>, what = 'DoH server'): Promise<Uint8Array> {
  const res = await send({
    method: 'POST',
    headers: { 'content-type': DNS_MESSAGE, accept: DNS_MESSAGE, ...headers },
    body: msg.slice(),
    signal: AbortSignal.timeout(timeoutMs),
  });
  if (res.status !== 200) {
    await res.body?.cancel();
    throw new UpstreamError(`${what} answered HTTP ${res.status}`);
  }
  return new Uint8Array(await res.arrayBuffer());
}

export const fetchTransport: UpstreamTransport = {
  udp: noSockets,
  tcp: noSockets,
  doh: (url, msg, timeoutMs, headers) => post((init) => fetch(url, init), msg, timeoutMs, headers),
};

export function shardTransport(shards: DurableObjectNamespace): UpstreamTransport {
  return {
    udp: noSockets,
    tcp: noSockets,
    doh(url, msg, timeoutMs, headers) {
      const name = shardOfUrl(url);
      const stub = shards.get(shards.idFromName(name));
      return post((init) => stub.fetch(url, init), msg, timeoutMs, headers, `shard ${name}`);
    },
  };
}
