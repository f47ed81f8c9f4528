import { describe, expect, it } from 'vitest';
import { parseConfig } from './config.js';
import { CLOCK_SKEW_MS, ContextAuth, ReplayCache } from './context-auth.js';
import { Field, encodeContext, newContext, type RequestContext } from './context.js';
import { textToName } from './dns/wire.js';
import { peersFromConfig } from './from-config.js';
import { silentLogger } from './log.js';
import { MemoryMetrics } from './metrics.js';

const NOW = 1_790_000_000_000;
const K1 = 'site-key-one-0123456789abcdef';
const auth = (timeoutMs = 4000) => new ContextAuth({ keys: { k1: K1 }, signing: 'k1' }, timeoutMs);

function context(deadline = NOW + 3000): RequestContext {
  const ctx = newContext({ qname: textToName('host.junk1.'), qtype: 1, qclass: 1, client: { address: '192.0.2.1', port: 1 }, transport: 'udp', flags: 0, ingress: 'a', deadline, udpSize: 0 });
  ctx.tags.add('rec_disable_static');
  ctx.hops = 1;
  return ctx;
}

const reason = async (a: ContextAuth, bytes: Uint8Array, now = NOW) => {
  const v = await a.verify(bytes, now);
  return v.ok ? 'ok' : v.reason;
};

/** Where `needle` first occurs in `hay`. */
function find(hay: Uint8Array, needle: string): number {
  const n = new TextEncoder().encode(needle);
  for (let i = 0; i + n.length <= hay.length; i++) if (n.every((b, j) => hay[i + j] === b)) return i;
  return -1;
}

describe('context signing', () => {
  it('verifies what it signed, with the tags intact', async () => {
    const a = auth();
    const v = await a.verify(await a.sign(encodeContext(context())), NOW);
    expect(v.ok && [...v.ctx.tags]).toEqual(['rec_disable_static']);
  });

  it('refuses a changed tag byte, a changed MAC byte, a truncated MAC and a MAC of the wrong length', async () => {
    const a = auth();
    const ctx = context();
    const signed = await a.sign(encodeContext(ctx));
    // The MAC field follows exactly what was signed.
    const at = encodeContext(ctx).length;
    expect(signed[at]).toBe(Field.mac);
    const flip = (i: number, v: number) => {
      const b = signed.slice();
      b[i] = v;
      return b;
    };
    // rec_disable_static -> sec_disable_static: still a valid tag, so only the MAC can tell.
    const tag = find(signed, 'rec_disable_static');
    expect(tag).toBeGreaterThan(0);
    expect(await reason(a, flip(tag, 's'.charCodeAt(0)))).toBe('bad-mac');
    expect(await reason(a, flip(signed.length - 1, signed[signed.length - 1]! ^ 1))).toBe('bad-mac');
    // Cut inside the MAC: the field runs past the end.
    expect(await reason(a, signed.subarray(0, signed.length - 1))).toBe('malformed');
    // A MAC field whose declared length is consistent but one byte short, or one byte long.
    const withMac = (value: Uint8Array) => new Uint8Array([...signed.subarray(0, at), Field.mac, value.length >>> 8, value.length & 0xff, ...value]);
    const mac = signed.subarray(at + 3);
    const resized = (delta: number) => withMac(delta < 0 ? mac.subarray(0, mac.length + delta) : new Uint8Array([...mac, 0]));
    expect(withMac(mac)).toEqual(signed);
    expect(await reason(a, resized(-1))).toBe('malformed');
    expect(await reason(a, resized(1))).toBe('malformed');
    // A key-id length that points past the value.
    expect(await reason(a, flip(at + 3, 200))).toBe('malformed');
  });

  it('refuses an unknown key id, a context without a MAC, and a hop count above the encoding limit', async () => {
    const other = new ContextAuth({ keys: { k9: K1 }, signing: 'k9' }, 4000);
    expect(await reason(auth(), await other.sign(encodeContext(context())))).toBe('unknown-key');
    expect(await reason(auth(), encodeContext(context()))).toBe('no-mac');
    const far = context();
    far.hops = 9;
    expect(await reason(auth(), await auth().sign(encodeContext(far)))).toBe('hops');
  });

  it('accepts a deadline up to the request budget plus the clock skew ahead, and none in the past', async () => {
    const a = auth(4000);
    const at = async (deadline: number) => reason(a, await a.sign(encodeContext(context(deadline))));
    expect(a.windowMs).toBe(4000 + CLOCK_SKEW_MS);
    expect(await at(NOW)).toBe('ok');
    expect(await at(NOW + 4000 + CLOCK_SKEW_MS)).toBe('ok');
    expect(await at(NOW + 4000 + CLOCK_SKEW_MS + 1)).toBe('expired');
    expect(await at(NOW - 1)).toBe('expired');
  });

  it('takes its replay window from server.request_timeout_ms, so a long budget does not strip every context', async () => {
    const cfg = parseConfig(`node_id = "a"
[server]
request_timeout_ms = 60000
[upstreams]
default = ["127.0.0.1:53"]
[site]
peers = { a = "127.0.0.1:5301", b = "127.0.0.1:5302" }
keys = { k1 = "${K1}" }
`);
    const transport = { udp: () => Promise.reject(new Error('unused')), tcp: () => Promise.reject(new Error('unused')) };
    const peers = peersFromConfig(cfg, { transport, metrics: new MemoryMetrics(), logger: silentLogger })!;
    // What a sender with the same budget sends: its deadline 60 s ahead, less a little time spent.
    const sent = await peers.auth.sign(encodeContext(context(NOW + 59_990)));
    expect(await reason(peers.auth, sent)).toBe('ok');
    expect(peers.auth.windowMs).toBe(60_000 + CLOCK_SKEW_MS);
  });

  it('accepts a signed context once per transport within its window, and keeps the replay cache bounded', async () => {
    const a = auth();
    const signed = await a.sign(encodeContext(context()));
    expect(await reason(a, signed)).toBe('ok');
    expect(await reason(a, signed)).toBe('replayed');
    expect((await a.verify(signed, NOW, 'tcp')).ok).toBe(true);
    expect((await a.verify(signed, NOW, 'tcp')).ok).toBe(false);
    const r = new ReplayCache(3);
    for (let i = 0; i < 10; i++) expect(r.check(`k${i}`, NOW + 1000, NOW)).toBe(false);
    expect(r.size).toBe(3);
    expect(r.check('k9', NOW + 1000, NOW)).toBe(true);
    // Past its deadline an entry is dropped (verify refuses the context as expired by then).
    expect(r.check('k9', NOW + 5000, NOW + 1001)).toBe(false);
    expect(r.size).toBe(1);
  });
});
