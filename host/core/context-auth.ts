/**
 * Authenticating the request context between nodes of a site: HMAC-SHA-256 under a site key,
 * the key id carried with the MAC so keys can rotate (several accepted at once, one used to
 * sign), and a replay window bounded by the context's own deadline. A context that fails any
 * check is stripped by the receiver and counted; it never reaches an app (DESIGN.md: "an
 * unauthenticated context from outside is stripped and counted").
 *
 * The deadline is the sender's clock plus its request budget, and the receiver judges it by its
 * own clock, so node clocks must be synchronised (NTP) to well within CLOCK_SKEW_MS.
 *
 * The MAC field (type 0x7f) is the last field: key-id length (u8), key id, 32-byte MAC over
 * every byte of the context before the field.
 */

import { ContextError, decodeContext, Field, type RequestContext } from './context.js';

export type RejectReason = 'not-peer' | 'no-mac' | 'unknown-key' | 'bad-mac' | 'expired' | 'replayed' | 'malformed' | 'hops' | 'question-mismatch';

export interface SiteKeys {
  /** Key id -> secret. */
  keys: Record<string, string>;
  /** The key id new contexts are signed with. */
  signing: string;
}

const MAC_LEN = 32;
const enc = new TextEncoder();

/**
 * How far apart two nodes' clocks may be. NTP keeps servers within milliseconds; a second leaves
 * room for a node that is still stepping its clock, and lengthens the replay window only by that.
 */
export const CLOCK_SKEW_MS = 1000;

/**
 * The signed contexts accepted within the replay window, so each is accepted once. Keyed by the
 * MAC (it covers every byte of the context: request id, deadline, question, tags) and the
 * transport it came over: a sender whose UDP answer was truncated sends the same signed context
 * again over TCP, and that retry is not a replay. An entry lives until the context's deadline,
 * past which `verify` refuses it as expired anyway. Bounded: past `max` entries the oldest goes
 * first (deadlines arrive nearly in order, so that is the one closest to expiring).
 */
export class ReplayCache {
  private readonly seen = new Map<string, number>();

  constructor(readonly max = 100_000) {}

  get size(): number {
    return this.seen.size;
  }

  /** True when `key` was seen and has not expired; else records it until `until` (ms) and returns false. */
  check(key: string, until: number, now: number): boolean {
    for (const [k, t] of this.seen) {
      if (t >= now) break;
      this.seen.delete(k);
    }
    const t = this.seen.get(key);
    if (t !== undefined && t >= now) return true;
    while (this.seen.size >= this.max) this.seen.delete(this.seen.keys().next().value!);
    this.seen.set(key, until);
    return false;
  }
}

export class ContextAuth {
  private readonly keys = new Map<string, Promise<CryptoKey>>();
  readonly replays: ReplayCache;
  readonly signingKey: string;
  /** Farthest in the future a deadline may lie; bounds how long a captured context replays. */
  readonly windowMs: number;

  /**
   * `requestTimeoutMs` is the site's request budget (`server.request_timeout_ms`): a sender sets
   * the deadline that far ahead of its clock, so a shorter window would refuse every context it
   * sends (the tags lost again, as in the incident), and a longer one only helps a replay.
   */
  constructor(site: SiteKeys, requestTimeoutMs: number, replayEntries = 100_000) {
    this.windowMs = requestTimeoutMs + CLOCK_SKEW_MS;
    this.replays = new ReplayCache(replayEntries);
    for (const [id, secret] of Object.entries(site.keys)) {
      this.keys.set(id, crypto.subtle.importKey('raw', enc.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify']));
    }
    if (!this.keys.has(site.signing)) throw new ContextError(`signing key "${site.signing}" is not among the site keys`);
    this.signingKey = site.signing;
  }

  /** Appends the MAC field to an encoded context. */
  async sign(encoded: Uint8Array): Promise<Uint8Array> {
    const id = enc.encode(this.signingKey);
    const key = await this.keys.get(this.signingKey)!;
    const mac = new Uint8Array(await crypto.subtle.sign('HMAC', key, encoded.slice()));
    const out = new Uint8Array(encoded.length + 3 + 1 + id.length + MAC_LEN);
    out.set(encoded, 0);
    let p = encoded.length;
    const len = 1 + id.length + MAC_LEN;
    out[p++] = Field.mac;
    out[p++] = len >>> 8;
    out[p++] = len & 0xff;
    out[p++] = id.length;
    out.set(id, p);
    out.set(mac, p + id.length);
    return out;
  }

  /**
   * Checks a context that arrived from a peer. Returns the context, or why it is refused. The
   * caller has already checked that the sender is a peer. `channel` names how it came (the
   * transport), so a truncated UDP exchange retried over TCP is not taken for a replay.
   */
  async verify(bytes: Uint8Array, now: number, channel = ''): Promise<{ ok: true; ctx: RequestContext } | { ok: false; reason: RejectReason }> {
    let decoded: { ctx: RequestContext; macOffset: number };
    try {
      decoded = decodeContext(bytes, { allowMac: true });
    } catch (e) {
      if (e instanceof ContextError) return { ok: false, reason: /hop count/.test(e.message) ? 'hops' : 'malformed' };
      throw e;
    }
    const at = decoded.macOffset;
    if (at < 0) return { ok: false, reason: 'no-mac' };
    const value = bytes.subarray(at + 3);
    const idLen = value[0] ?? 0;
    if (value.length !== 1 + idLen + MAC_LEN) return { ok: false, reason: 'malformed' };
    const id = new TextDecoder().decode(value.subarray(1, 1 + idLen));
    const key = this.keys.get(id);
    if (!key) return { ok: false, reason: 'unknown-key' };
    const good = await crypto.subtle.verify('HMAC', await key, value.slice(1 + idLen), bytes.slice(0, at));
    if (!good) return { ok: false, reason: 'bad-mac' };
    // The deadline is inside the MAC: past it, or further ahead than any sender sets it, the
    // context is stale. No skew allowance on the past side: there the ingress has given up.
    const d = decoded.ctx.deadline;
    if (d < now || d > now + this.windowMs) return { ok: false, reason: 'expired' };
    let seen = `${channel}|`;
    for (let i = 1 + idLen; i < value.length; i++) seen += String.fromCharCode(value[i]!);
    if (this.replays.check(seen, d, now)) return { ok: false, reason: 'replayed' };
    return { ok: true, ctx: decoded.ctx };
  }
}

/** EDNS(0) option code for the context between nodes: the first local-use code (RFC 6891 §9). */
export const DEFAULT_CONTEXT_OPTION = 65001;

/** HTTP header carrying the context (base64url) over DoH. */
export const CONTEXT_HEADER = 'edge-context';
