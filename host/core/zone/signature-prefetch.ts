/**
 * Signature checks that start while the zone is still being parsed. In a zone file in
 * canonical order (as zones are published) an owner's records are all read once the parser has
 * moved past it, so its RRSIGs can go to the verifier then, and the verifier's threads work
 * while this one parses. The zone verification later takes a result only when the RRset it
 * built has exactly the records the prefetch signed over, with the same key; anything else
 * (unsorted input, a repeated owner, a key-tag collision) is simply checked again there.
 */

import { compareBytes } from '../dns/bytes.js';
import { canonicalKey, countLabels, lowerName, wireNameLength } from '../dns/name.js';
import { RRType } from '../dns/rr-types.js';
import { parseDnskey, type DnskeyInfo, type SignatureVerifier } from './dnssec-keys.js';
import { canonicalRdata } from './rdata-wire.js';
import type { RecordTable } from './record-table.js';
import { buildSignedData, signatureOf } from './signed-data.js';

interface Prefetched {
  keyRecord: number;
  rrs: number[];
  ok: Promise<boolean | null>;
}

interface Pending {
  sig: number;
  key: number; // index in keys
  rrs: number[];
  data: Uint8Array;
  signature: Uint8Array;
}

export interface PrefetchLookup {
  /**
   * The prefetched result for RRSIG record `sig` made with DNSKEY record `keyRecord` over
   * exactly `rrs[first, first+count)`; null when there is none (check it yourself). The promise
   * resolves to null when the prefetch could not finish.
   */
  lookup(sig: number, keyRecord: number, rrs: ArrayLike<number>, first: number, count: number): Promise<boolean | null> | null;
}

export class SignaturePrefetch implements PrefetchLookup {
  private done = 0;
  private groupStart = 0;
  private prevKey: Uint8Array | null = null;
  private active = true;
  private keys: Array<{ record: number; info: DnskeyInfo; handle: Promise<unknown> }> | null = null;
  private readonly results = new Map<number, Prefetched>();
  private pending: Pending[] = [];

  constructor(
    private readonly table: RecordTable,
    private readonly verifier: SignatureVerifier,
  ) {}

  /** Looks at the records added since the last call; `final` at the end of the input. */
  advance(final = false): void {
    const t = this.table;
    const n = t.count;
    if (this.active) {
      for (let i = Math.max(this.done, this.groupStart + 1); i < n; i++) {
        if (t.ownerOff[i] !== t.ownerOff[i - 1]) {
          if (!this.complete(this.groupStart, i)) {
            this.active = false;
            break;
          }
          this.groupStart = i;
        }
      }
      if (this.active && final && this.groupStart < n) this.complete(this.groupStart, n);
    }
    this.done = n;
    this.flush();
  }

  lookup(sig: number, keyRecord: number, rrs: ArrayLike<number>, first: number, count: number): Promise<boolean | null> | null {
    const e = this.results.get(sig);
    if (!e || e.keyRecord !== keyRecord || e.rrs.length !== count) return null;
    for (let i = 0; i < count; i++) if (e.rrs[i] !== rrs[first + i]) return null;
    return e.ok;
  }

  /** Handles the finished owner group `[gs, ge)`; false when the input turns out not sorted. */
  private complete(gs: number, ge: number): boolean {
    const t = this.table;
    const owner = lowerName(t.owner(gs).slice());
    const key = canonicalKey(owner);
    if (this.prevKey && compareBytes(key, this.prevKey) <= 0) return false;
    this.prevKey = key;
    if (!this.keys) {
      // the first owner of a sorted zone is its apex, where the DNSKEYs are
      this.keys = [];
      for (let r = gs; r < ge; r++) {
        if (t.type[r] !== RRType.DNSKEY) continue;
        const info = parseDnskey(t.rdata(r).slice());
        if (!info || info.protocol !== 3 || !info.zoneKey) continue;
        const handle = this.verifier.importKey(info).catch(() => null);
        this.keys.push({ record: r, info, handle });
      }
      if (this.keys.length === 0) return false;
    }
    const labels = countLabels(owner);
    for (let r = gs; r < ge; r++) {
      if (t.type[r] !== RRType.RRSIG || t.rdLen[r]! < 20) continue;
      const o = t.rdOff[r]!;
      const b = t.bytes;
      if (wireNameLength(b, o + 18, o + t.rdLen[r]!) < 0) continue;
      const covered = (b[o]! << 8) | b[o + 1]!;
      const alg = b[o + 2]!;
      const tag = (b[o + 16]! << 8) | b[o + 17]!;
      let key = -1;
      for (let k = 0; k < this.keys.length; k++) {
        const info = this.keys[k]!.info;
        if (info.tag === tag && info.algorithm === alg) {
          if (key >= 0) {
            key = -2; // a tag collision: the zone verification tries each key
            break;
          }
          key = k;
        }
      }
      if (key < 0) continue;
      // the RRset as the zone will hold it: canonical RDATA order, first of equal RRs kept
      const members: Array<{ r: number; canon: Uint8Array }> = [];
      for (let q = gs; q < ge; q++) if (t.type[q] === covered && covered !== RRType.RRSIG) members.push({ r: q, canon: canonicalRdata(covered, t.rdata(q).slice()) });
      if (members.length === 0) continue;
      members.sort((x, y) => compareBytes(x.canon, y.canon));
      const rrs: number[] = [];
      const canon = new Map<number, Uint8Array>();
      for (let m = 0; m < members.length; m++) {
        if (m > 0 && compareBytes(members[m - 1]!.canon, members[m]!.canon) === 0) continue;
        rrs.push(members[m]!.r);
        canon.set(members[m]!.r, members[m]!.canon);
      }
      const data = buildSignedData(t, r, owner, labels, covered, t.cls, rrs, 0, rrs.length, (q) => canon.get(q)!);
      this.pending.push({ sig: r, key, rrs, data, signature: signatureOf(t, r).slice() });
    }
    return true;
  }

  private flush(): void {
    if (this.pending.length === 0 || !this.keys) return;
    const batch = this.pending;
    this.pending = [];
    const keys = this.keys;
    const results = Promise.all(keys.map((k) => k.handle))
      .then((handles) => {
        const requests = batch.map((p) => ({ key: handles[p.key], signature: p.signature, data: p.data }));
        if (requests.some((q) => q.key == null)) return null;
        return this.verifier.verifyBatch(requests);
      })
      .catch(() => null);
    batch.forEach((p, j) => {
      this.results.set(p.sig, {
        keyRecord: keys[p.key]!.record,
        rrs: p.rrs,
        ok: results.then((res) => (res ? res[j]! : null)),
      });
    });
  }
}
