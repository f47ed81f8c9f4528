/**
 * One RRSIG against the RRset it covers, the steps every DNSSEC check shares: the zone verifier
 * (dnssec-verify.ts, a whole zone at once) and the message validator (host/core/dnssec/, one
 * answer at a time) both read the fields here, apply the same checks (RFC 4035 §5.3.1) with the
 * same words, look up candidate keys by tag in a `KeyRing`, and build the signed bytes with
 * signed-data.ts. Only how the checks are scheduled differs between the two.
 */

import { nameToText, u32 } from '../dns/wire.js';
import type { DnskeyInfo, SignatureVerifier } from './dnssec-keys.js';
import { nameEquals, wireNameLength } from '../dns/name.js';

/** RRSIG RDATA fields (RFC 4034 §3.1); times are the raw 32-bit serial values. */
export interface RrsigInfo {
  typeCovered: number;
  algorithm: number;
  labels: number;
  originalTtl: number;
  expiration: number;
  inception: number;
  keyTag: number;
  signer: Uint8Array;
  signature: Uint8Array;
  /** The RDATA up to the signature: what the signed data starts with. */
  head: Uint8Array;
}

/** The fields of RRSIG RDATA, or why it is malformed. */
export function parseRrsig(rdata: Uint8Array): RrsigInfo | string {
  if (rdata.length < 20) return 'RRSIG RDATA too short';
  const signerLen = wireNameLength(rdata, 18, rdata.length);
  if (signerLen < 0) return 'RRSIG signer name is malformed';
  return {
    typeCovered: (rdata[0]! << 8) | rdata[1]!,
    algorithm: rdata[2]!,
    labels: rdata[3]!,
    originalTtl: u32(rdata, 4),
    expiration: u32(rdata, 8),
    inception: u32(rdata, 12),
    keyTag: (rdata[16]! << 8) | rdata[17]!,
    signer: rdata.subarray(18, 18 + signerLen),
    signature: rdata.subarray(18 + signerLen),
    head: rdata.subarray(0, 18 + signerLen),
  };
}

const TWO32 = 2 ** 32;

/** RFC 4034 §3.1.5 times are 32-bit serial numbers: the absolute time closest to `nowSec`. */
export function absoluteTime(t: number, nowSec: number): number {
  let diff = (t - nowSec) % TWO32;
  if (diff < 0) diff += TWO32;
  if (diff >= TWO32 / 2) diff -= TWO32;
  return nowSec + diff;
}

export function isoTime(sec: number): string {
  return new Date(sec * 1000).toISOString().replace('.000Z', 'Z');
}

export type SigOutcome = 'valid' | 'expired' | 'not-yet-valid' | 'bad-signature' | 'no-key' | 'unsupported' | 'malformed';

/** What the checks before any crypto found; `keys` index the KeyRing. */
export interface RrsigPrecheck {
  outcome: SigOutcome;
  detail: string;
  keys: number[];
  /** Absolute seconds. */
  expiration: number;
  inception: number;
}

export interface PrecheckContext {
  /** Lower-case apex of the zone whose keys are in `ring`: the signer must be this name. */
  apex: Uint8Array;
  /** Labels of the RRset's owner (RRSIG labels may be fewer only for a wildcard). */
  ownerLabels: number;
  nowSec: number;
  ring: KeyRing;
  supported: (algorithm: number) => boolean;
}

/**
 * Everything RFC 4035 §5.3.1 asks of an RRSIG before its signature is checked: signer is the
 * apex, labels field possible, algorithm implemented, a zone key with that tag, and the
 * validity window. `valid`, `expired` and `not-yet-valid` leave the candidate keys in `keys`
 * (a window failure is still worth a crypto check when the caller reports it); the other
 * outcomes leave none.
 */
export function precheckRrsig(sig: RrsigInfo | string, ctx: PrecheckContext): RrsigPrecheck {
  if (typeof sig === 'string') return { outcome: 'malformed', detail: sig, keys: [], expiration: 0, inception: 0 };
  const expiration = absoluteTime(sig.expiration, ctx.nowSec);
  const inception = absoluteTime(sig.inception, ctx.nowSec);
  const fail = (outcome: SigOutcome, detail: string): RrsigPrecheck => ({ outcome, detail, keys: [], expiration, inception });
  if (!nameEquals(sig.signer, ctx.apex)) return fail('malformed', `signer ${nameToText(sig.signer)} is not the zone apex`);
  if (sig.labels > ctx.ownerLabels) return fail('malformed', `RRSIG labels field ${sig.labels} exceeds the owner's label count`);
  if (!ctx.supported(sig.algorithm)) return fail('unsupported', `algorithm ${sig.algorithm} is not supported`);
  const keys = ctx.ring.candidates(sig.keyTag, sig.algorithm);
  if (keys.length === 0) return fail('no-key', `no DNSKEY with tag ${sig.keyTag} and algorithm ${sig.algorithm}`);
  if (inception > ctx.nowSec) return { outcome: 'not-yet-valid', detail: `signature not valid before ${isoTime(inception)}`, keys, expiration, inception };
  if (expiration < ctx.nowSec) return { outcome: 'expired', detail: `signature expired ${isoTime(expiration)}`, keys, expiration, inception };
  return { outcome: 'valid', detail: '', keys, expiration, inception };
}

/**
 * A zone's DNSKEYs with their imported handles, indexed by key tag and algorithm. Only zone
 * keys (RFC 4034 §2.1.1) with protocol 3 are imported, once each: all at once (`import`, the
 * zone verifier, which hands every signature to the verifier in batches), or each the first
 * time a signature names it (`lazy`, the message validator: a response with hundreds of keys
 * costs only the imports its signatures ask for).
 */
export class KeyRing {
  private readonly byTag = new Map<number, number[]>();
  private readonly loading: Array<Promise<unknown> | undefined>;

  private constructor(
    readonly keys: readonly DnskeyInfo[],
    /** Imported handles; for a lazy ring, filled in as `load` imports them. */
    readonly handles: unknown[],
    private readonly verifier: SignatureVerifier | null,
  ) {
    this.loading = new Array(keys.length);
    keys.forEach((k, i) => {
      const id = k.tag * 256 + k.algorithm;
      const list = this.byTag.get(id);
      if (list) list.push(i);
      else this.byTag.set(id, [i]);
    });
  }

  /** Imports `keys`; a key whose material is malformed is reported to `onError` and left out. */
  static async import(keys: readonly DnskeyInfo[], verifier: SignatureVerifier, onError?: (key: DnskeyInfo, err: Error) => void): Promise<KeyRing> {
    const handles = await Promise.all(
      keys.map(async (k) => {
        if (k.protocol !== 3 || !k.zoneKey) return null;
        try {
          return await verifier.importKey(k);
        } catch (err) {
          onError?.(k, err as Error);
          return null;
        }
      }),
    );
    return new KeyRing(keys, handles, null);
  }

  /** A ring that imports a key the first time `load` asks for it. */
  static lazy(keys: readonly DnskeyInfo[], verifier: SignatureVerifier): KeyRing {
    return new KeyRing(keys, new Array(keys.length).fill(null), verifier);
  }

  /** Every key with this tag and algorithm, imported or not (for DS matching). */
  withTag(tag: number, algorithm: number): readonly number[] {
    return this.byTag.get(tag * 256 + algorithm) ?? [];
  }

  /**
   * Zone keys with this tag and algorithm: the keys an RRSIG may have been made with (for an
   * imported ring, those that imported; for a lazy one, those not yet known to fail).
   */
  candidates(tag: number, algorithm: number): number[] {
    return this.withTag(tag, algorithm).filter((i) => {
      const k = this.keys[i]!;
      if (!k.zoneKey || k.protocol !== 3) return false;
      return this.verifier ? this.loading[i] === undefined || this.handles[i] != null : this.handles[i] != null;
    });
  }

  /** The handle of key i, importing it now for a lazy ring; null when it cannot be used. */
  async load(i: number): Promise<unknown> {
    if (!this.verifier) return this.handles[i];
    const k = this.keys[i]!;
    if (k.protocol !== 3 || !k.zoneKey) return null;
    this.loading[i] ??= this.verifier.importKey(k).then(
      (h) => (this.handles[i] = h ?? null),
      () => null,
    );
    return this.loading[i];
  }
}
