/**
 * A loaded zone: names in canonical order (RFC 4034 §6.1), each with its RRsets, each RRset's
 * RRs in canonical RDATA order without duplicates (§6.3) and its RRSIGs beside it, and every
 * name classified (apex, delegation, glue or occluded, empty non-terminal). ZONEMD, DNSSEC and
 * the image writer all read this one structure, so they cannot disagree about what the zone is.
 *
 * Everything is columns of typed arrays indexing into the RecordTable: a root zone becomes a
 * few dozen arrays instead of a hundred thousand objects.
 */

import { compareBytes } from '../dns/bytes.js';
import { canonicalKey } from '../dns/name.js';
import { RRType, typeToName } from '../dns/rr-types.js';
import { nameToText } from '../dns/wire.js';
import { ZoneError } from './errors.js';
import { HAS_LC_NAME } from './rdata-schema.js';
import { lowerRdataInPlace, needsLowering } from './rdata-wire.js';
import type { ZoneRecord } from './record.js';
import { RecordTable } from './record-table.js';

/** Name flags (also the image's per-name flags; see docs/zone-image.md). */
export const NODE_APEX = 1;
/** A delegation point: NS at a name other than the apex. */
export const NODE_CUT = 2;
/** Below a delegation: only glue (A/AAAA) or occluded data lives here. */
export const NODE_BELOW_CUT = 4;
/** Below a DNAME: occluded. */
export const NODE_BELOW_DNAME = 8;
/** An empty non-terminal: no RRsets, but names exist below it. */
export const NODE_ENT = 16;
/** The first label is `*`. */
export const NODE_WILDCARD = 32;
export const NODE_HAS_NSEC = 64;
export const NODE_HAS_DNAME = 128;

/** RRset flags. */
export const SET_AUTH = 1;
/** NS RRset at a delegation point: parent-side data, not signed. */
export const SET_DELEGATION = 2;
export const SET_GLUE = 4;
export const SET_OCCLUDED = 8;
/** The RRs of this set have different TTLs (RFC 2181 §5.2 says they should not). */
export const SET_TTLS_DIFFER = 16;

export interface SoaFields {
  ttl: number;
  serial: number;
  refresh: number;
  retry: number;
  expire: number;
  minimum: number;
}

export interface NameTable {
  count: number;
  /** Lower-case wire names (`bytes[off, off+len)`). */
  bytes: Uint8Array;
  off: Int32Array;
  len: Uint16Array;
  /** canonicalKey of each name: byte order of keys is canonical name order. */
  keyBytes: Uint8Array;
  keyOff: Int32Array;
  keyLen: Uint16Array;
  labels: Uint8Array;
  flags: Uint16Array;
  setFirst: Int32Array;
  setCount: Int32Array;
  /** RRSIGs at this name whose covered type has no RRset here (indices into `Zone.sigs`). */
  orphanFirst: Int32Array;
  orphanCount: Int32Array;
}

export interface SetTable {
  count: number;
  name: Int32Array;
  type: Uint16Array;
  /** The smallest TTL of the set's RRs. */
  ttl: Uint32Array;
  flags: Uint8Array;
  /** RRs are `Zone.rrs[rrFirst, rrFirst+rrCount)`, RRSIGs `Zone.sigs[sigFirst, sigFirst+sigCount)`. */
  rrFirst: Int32Array;
  rrCount: Int32Array;
  sigFirst: Int32Array;
  sigCount: Int32Array;
}

export interface Zone {
  /** Lower-case wire form. */
  origin: Uint8Array;
  class: number;
  soa: SoaFields;
  /** The records as loaded (owner case preserved); everything below indexes into it. */
  table: RecordTable;
  names: NameTable;
  sets: SetTable;
  /** Record indices, canonical order, grouped by set. */
  rrs: Int32Array;
  /** RRSIG record indices: per name, each set's RRSIGs in set order, then the orphans. */
  sigs: Int32Array;
  /** Canonical RDATA of record r is `canonBytes[canonOff[r]…]` when canonOff[r] >= 0, else the table's. */
  canonBytes: Uint8Array;
  canonOff: Int32Array;
  /** RRs after duplicates were removed, RRSIGs included. */
  recordCount: number;
  /** RR count per type mnemonic. */
  typeCounts: Record<string, number>;
  duplicates: number;
  warnings: string[];
}

export interface ZoneBuildOptions {
  /** When given, the SOA must be at this name (wire form). */
  origin?: Uint8Array;
  /**
   * What to do with records not at or below the apex. Default 'drop': they are left out of the
   * zone (and so of its digest and image) with a warning naming them, as BIND ("ignoring
   * out-of-zone data") and Unbound do, and as RFC 8976's own Appendix A.2 example needs.
   */
  outOfZone?: 'error' | 'drop';
}

const u32 = (b: Uint8Array, o: number): number =>
  ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;

const lc = (c: number): number => (c >= 0x41 && c <= 0x5a ? c + 0x20 : c);

function namesEqualAt(b: Uint8Array, x: number, y: number, n: number): boolean {
  for (let k = 0; k < n; k++) {
    const p = b[x + k]!;
    const q = b[y + k]!;
    if (p !== q && lc(p) !== lc(q)) return false;
  }
  return true;
}

/** True when the name at `b[o, o+n)` is `apex` or below it, ignoring case. */
function atOrBelowAt(b: Uint8Array, o: number, n: number, apex: Uint8Array): boolean {
  const off = n - apex.length;
  if (off < 0) return false;
  let i = 0;
  while (i < off) i += b[o + i]! + 1;
  if (i !== off) return false;
  for (let k = 0; k < apex.length; k++) if (lc(b[o + off + k]!) !== apex[k]) return false;
  return true;
}

function growBytes(b: Uint8Array, need: number): Uint8Array {
  if (need <= b.length) return b;
  let n = b.length * 2;
  while (n < need) n *= 2;
  const c = new Uint8Array(n);
  c.set(b);
  return c;
}

interface OwnerGroups {
  /** Node id of each record. */
  nodeOf: Int32Array;
  /** A record of each node, to reach its owner bytes. */
  rep: number[];
  soaIdx: number;
  soaDistinct: number;
}

/** One node per distinct owner: equal offsets mean equal owners, a hash finds repeats. */
function groupOwners(table: RecordTable): OwnerGroups {
  const n = table.count;
  const bytes = table.bytes;
  const ownerOff = table.ownerOff;
  const ownerLen = table.ownerLen;
  const types = table.type;
  const nodeOf = new Int32Array(n);
  const rep: number[] = [];
  const buckets = new Map<number, number>();
  const chain: number[] = [];
  let soaIdx = -1;
  let soaDistinct = 0;
  for (let i = 0; i < n; i++) {
    if (types[i] === RRType.SOA) {
      if (soaIdx < 0 || !sameRdata(table, soaIdx, i) || !namesEqualAt(bytes, ownerOff[soaIdx]!, ownerOff[i]!, ownerLen[i]!)) {
        soaDistinct++;
      }
      soaIdx = i;
    }
    if (i > 0 && ownerOff[i] === ownerOff[i - 1]) {
      nodeOf[i] = nodeOf[i - 1]!;
      continue;
    }
    const o = ownerOff[i]!;
    const len = ownerLen[i]!;
    let h = 0x811c9dc5;
    for (let k = 0; k < len; k++) {
      const c = bytes[o + k]!;
      h = Math.imul(h ^ (c >= 0x41 && c <= 0x5a ? c + 0x20 : c), 0x01000193);
    }
    let id = buckets.get(h) ?? -1;
    while (id >= 0) {
      const r = rep[id]!;
      if (ownerLen[r] === len && namesEqualAt(bytes, ownerOff[r]!, o, len)) break;
      id = chain[id]!;
    }
    if (id < 0) {
      id = rep.length;
      rep.push(i);
      chain.push(buckets.get(h) ?? -1);
      buckets.set(h, id);
    }
    nodeOf[i] = id;
  }
  return { nodeOf, rep, soaIdx, soaDistinct };
}

interface NodeNames {
  nameBytes: Uint8Array;
  keyBytes: Uint8Array;
  nOff: Int32Array;
  nLen: Uint16Array;
  kOff: Int32Array;
  kLen: Uint16Array;
  nLabels: Uint8Array;
  /** Node ids inside the zone (in canonical order once sorted). */
  inZone: number[];
  dropped: number;
  /** The first out-of-zone names left out, for the warning. */
  droppedNames: string[];
}

/** Lower-case names and canonical keys (see canonicalKey) of the nodes inside the zone. */
function nodeNames(table: RecordTable, rep: number[], origin: Uint8Array, outOfZone: 'error' | 'drop'): NodeNames {
  const bytes = table.bytes;
  const nodeCount = rep.length;
  let nameBytes: Uint8Array = new Uint8Array(Math.max(256, table.used >>> 2));
  let keyBytes: Uint8Array = new Uint8Array(Math.max(256, table.used >>> 2));
  let nameUsed = 0;
  let keyUsed = 0;
  const nOff = new Int32Array(nodeCount);
  const nLen = new Uint16Array(nodeCount);
  const kOff = new Int32Array(nodeCount);
  const kLen = new Uint16Array(nodeCount);
  const nLabels = new Uint8Array(nodeCount);
  const inZone: number[] = [];
  let dropped = 0;
  const droppedNames: string[] = [];
  const labelStarts = new Int32Array(128);
  for (let id = 0; id < nodeCount; id++) {
    const r = rep[id]!;
    const o = table.ownerOff[r]!;
    const len = table.ownerLen[r]!;
    if (!atOrBelowAt(bytes, o, len, origin)) {
      if (outOfZone !== 'drop') {
        throw new ZoneError('zone', `${nameToText(table.owner(r))} is outside the zone ${nameToText(origin)} (out-of-zone data)`);
      }
      dropped++;
      if (droppedNames.length < 5) droppedNames.push(nameToText(table.owner(r)));
      continue;
    }
    inZone.push(id);
    if (nameUsed + len > nameBytes.length) nameBytes = growBytes(nameBytes, nameUsed + len);
    if (keyUsed + 2 * len > keyBytes.length) keyBytes = growBytes(keyBytes, keyUsed + 2 * len);
    nOff[id] = nameUsed;
    nLen[id] = len;
    let labels = 0;
    let p = 0;
    while (p < len) {
      const l = bytes[o + p]!;
      nameBytes[nameUsed + p] = l;
      if (l === 0) break;
      labelStarts[labels++] = p;
      for (let k = 1; k <= l; k++) {
        const c = bytes[o + p + k]!;
        nameBytes[nameUsed + p + k] = c >= 0x41 && c <= 0x5a ? c + 0x20 : c;
      }
      p += l + 1;
    }
    nLabels[id] = labels;
    let ko = keyUsed;
    for (let q = labels - 1; q >= 0; q--) {
      const s = nameUsed + labelStarts[q]!;
      const l = nameBytes[s]!;
      for (let k = 1; k <= l; k++) {
        const c = nameBytes[s + k]!;
        if (c <= 1) {
          keyBytes[ko++] = 1;
          keyBytes[ko++] = c + 1;
        } else keyBytes[ko++] = c;
      }
      keyBytes[ko++] = 0;
    }
    kOff[id] = keyUsed;
    kLen[id] = ko - keyUsed;
    keyUsed = ko;
    nameUsed += len;
  }
  return { nameBytes, keyBytes, nOff, nLen, kOff, kLen, nLabels, inZone, dropped, droppedNames };
}

function compareKeys(keyBytes: Uint8Array, ao: number, al: number, bo: number, bl: number): number {
  const m = al < bl ? al : bl;
  for (let k = 0; k < m; k++) {
    const d = keyBytes[ao + k]! - keyBytes[bo + k]!;
    if (d !== 0) return d;
  }
  return al - bl;
}

/** Sorts `nn.inZone` into canonical order (input usually is in it already: one linear check). */
function sortNames(nn: NodeNames): void {
  const { keyBytes, kOff, kLen, inZone } = nn;
  let ordered = true;
  for (let k = 1; k < inZone.length; k++) {
    const a = inZone[k - 1]!;
    const b = inZone[k]!;
    if (compareKeys(keyBytes, kOff[a]!, kLen[a]!, kOff[b]!, kLen[b]!) > 0) {
      ordered = false;
      break;
    }
  }
  if (!ordered) inZone.sort((a, b) => compareKeys(keyBytes, kOff[a]!, kLen[a]!, kOff[b]!, kLen[b]!));
}

/** Record indices grouped by node in canonical name order; a counting sort keeps input order inside. */
function groupRecords(nodeOf: Int32Array, nodeCount: number, inZone: number[]): { start: Int32Array; order: Int32Array } {
  const n = nodeOf.length;
  const rank = new Int32Array(nodeCount).fill(-1);
  for (let k = 0; k < inZone.length; k++) rank[inZone[k]!] = k;
  const start = new Int32Array(inZone.length + 1);
  for (let i = 0; i < n; i++) {
    const rk = rank[nodeOf[i]!]!;
    if (rk >= 0) start[rk + 1]!++;
  }
  for (let k = 0; k < inZone.length; k++) start[k + 1]! += start[k]!;
  const order = new Int32Array(start[inZone.length]!);
  const fill = start.slice(0, inZone.length);
  for (let i = 0; i < n; i++) {
    const rk = rank[nodeOf[i]!]!;
    if (rk >= 0) order[fill[rk]!++] = i;
  }
  return { start, order };
}

/** Canonical RDATA of the records whose embedded names are not already lower case (rare). */
function canonicalize(table: RecordTable): { canonBytes: Uint8Array; canonOff: Int32Array } {
  const n = table.count;
  const canonOff = new Int32Array(n).fill(-1);
  let canonBytes: Uint8Array = new Uint8Array(0);
  let used = 0;
  const types = table.type;
  for (let i = 0; i < n; i++) {
    const t = types[i]!;
    if (!HAS_LC_NAME.has(t)) continue;
    const o = table.rdOff[i]!;
    const len = table.rdLen[i]!;
    if (!needsLowering(t, table.bytes, o, len)) continue;
    if (used + len > canonBytes.length) canonBytes = growBytes(canonBytes.length ? canonBytes : new Uint8Array(4096), used + len);
    canonBytes.set(table.bytes.subarray(o, o + len), used);
    lowerRdataInPlace(t, canonBytes, used, len);
    canonOff[i] = used;
    used += len;
  }
  return { canonBytes, canonOff };
}

/** Orders records by canonical RDATA (and by type first for `cmpRR`). */
class RdataOrder {
  constructor(
    private readonly table: RecordTable,
    private readonly canonBytes: Uint8Array,
    private readonly canonOff: Int32Array,
  ) {}

  readonly cmpRdata = (a: number, b: number): number => {
    const t = this.table;
    const ca = this.canonOff[a]!;
    const cb = this.canonOff[b]!;
    const ab = ca >= 0 ? this.canonBytes : t.bytes;
    const bb = cb >= 0 ? this.canonBytes : t.bytes;
    const ao = ca >= 0 ? ca : t.rdOff[a]!;
    const bo = cb >= 0 ? cb : t.rdOff[b]!;
    const al = t.rdLen[a]!;
    const bl = t.rdLen[b]!;
    const m = al < bl ? al : bl;
    for (let k = 0; k < m; k++) {
      const d = ab[ao + k]! - bb[bo + k]!;
      if (d !== 0) return d;
    }
    return al - bl;
  };

  readonly cmpRR = (a: number, b: number): number => this.table.type[a]! - this.table.type[b]! || this.cmpRdata(a, b);
}

function sortSmall(a: number[], cmp: (x: number, y: number) => number): void {
  if (a.length > 24) {
    a.sort(cmp);
    return;
  }
  for (let x = 1; x < a.length; x++) {
    const v = a[x]!;
    let y = x - 1;
    while (y >= 0 && cmp(a[y]!, v) > 0) {
      a[y + 1] = a[y]!;
      y--;
    }
    a[y + 1] = v;
  }
}

/**
 * Builds names (with empty non-terminals), sets, RR and RRSIG order and the classification in
 * one pass over canonical order. Canonical order lists every name's descendants right after it,
 * so a stack of ancestors tells whether a name sits below a delegation or a DNAME.
 */
class Assembler {
  readonly names: NameTable;
  readonly sets: SetTable;
  readonly rrs: Int32Array;
  readonly sigs: Int32Array;
  rrUsed = 0;
  sigUsed = 0;
  duplicates = 0;
  readonly warnings: string[] = [];
  private readonly stack: number[] = [];
  private readonly data: number[] = [];
  private readonly rsig: number[] = [];
  private readonly orphans: number[] = [];
  private readonly apexLabels: number;

  constructor(
    private readonly table: RecordTable,
    private readonly nn: NodeNames,
    private readonly ord: RdataOrder,
  ) {
    const cap = nn.inZone.length * 2 + 16;
    this.names = {
      count: 0,
      bytes: nn.nameBytes,
      off: new Int32Array(cap),
      len: new Uint16Array(cap),
      keyBytes: nn.keyBytes,
      keyOff: new Int32Array(cap),
      keyLen: new Uint16Array(cap),
      labels: new Uint8Array(cap),
      flags: new Uint16Array(cap),
      setFirst: new Int32Array(cap),
      setCount: new Int32Array(cap),
      orphanFirst: new Int32Array(cap),
      orphanCount: new Int32Array(cap),
    };
    const n = table.count;
    this.sets = {
      count: 0,
      name: new Int32Array(n + 1),
      type: new Uint16Array(n + 1),
      ttl: new Uint32Array(n + 1),
      flags: new Uint8Array(n + 1),
      rrFirst: new Int32Array(n + 1),
      rrCount: new Int32Array(n + 1),
      sigFirst: new Int32Array(n + 1),
      sigCount: new Int32Array(n + 1),
    };
    this.rrs = new Int32Array(n);
    this.sigs = new Int32Array(n);
    this.apexLabels = nn.inZone.length ? nn.nLabels[nn.inZone[0]!]! : 0;
  }

  private isKeyPrefix(a: number, bo: number, bl: number): boolean {
    const kb = this.nn.keyBytes;
    const ao = this.names.keyOff[a]!;
    const al = this.names.keyLen[a]!;
    if (al > bl) return false;
    for (let k = 0; k < al; k++) if (kb[ao + k] !== kb[bo + k]) return false;
    return true;
  }

  private inherited(): number {
    let f = 0;
    const st = this.stack;
    for (let s = 0; s < st.length; s++) {
      const af = this.names.flags[st[s]!]!;
      if (af & (NODE_CUT | NODE_BELOW_CUT)) f |= NODE_BELOW_CUT;
      if (af & (NODE_HAS_DNAME | NODE_BELOW_DNAME)) f |= NODE_BELOW_DNAME;
    }
    return f;
  }

  private addName(off: number, len: number, ko: number, kl: number, labels: number, flags: number): number {
    const names = this.names;
    const k = names.count++;
    names.off[k] = off;
    names.len[k] = len;
    names.keyOff[k] = ko;
    names.keyLen[k] = kl;
    names.labels[k] = labels;
    names.flags[k] = flags;
    names.setFirst[k] = this.sets.count;
    names.setCount[k] = 0;
    names.orphanFirst[k] = this.sigUsed;
    names.orphanCount[k] = 0;
    return k;
  }

  /** Names between the deepest existing ancestor and `id` that hold no data (RFC 4592 §2.2.2). */
  private addEmptyNonTerminals(id: number): void {
    const nn = this.nn;
    const labels = nn.nLabels[id]!;
    const st = this.stack;
    const deepest = st.length ? this.names.labels[st[st.length - 1]!]! : this.apexLabels;
    if (!st.length || labels <= deepest + 1) return;
    const ko = nn.kOff[id]!;
    for (let l = deepest + 1; l < labels; l++) {
      // the ancestor with l labels: its name is a suffix of ours, its key a prefix
      let skip = 0;
      for (let s = 0; s < labels - l; s++) skip += nn.nameBytes[nn.nOff[id]! + skip]! + 1;
      let zeros = 0;
      let kp = 0;
      while (zeros < l) {
        if (nn.keyBytes[ko + kp] === 0) zeros++;
        kp++;
      }
      st.push(this.addName(nn.nOff[id]! + skip, nn.nLen[id]! - skip, ko, kp, l, NODE_ENT | this.inherited()));
    }
  }

  node(id: number, order: Int32Array, from: number, to: number): void {
    const nn = this.nn;
    const table = this.table;
    const types = table.type;
    const ko = nn.kOff[id]!;
    const kl = nn.kLen[id]!;
    const st = this.stack;
    while (st.length && !this.isKeyPrefix(st[st.length - 1]!, ko, kl)) st.pop();
    this.addEmptyNonTerminals(id);

    const data = this.data;
    const rsig = this.rsig;
    data.length = 0;
    rsig.length = 0;
    for (let q = from; q < to; q++) {
      const r = order[q]!;
      if (types[r] === RRType.RRSIG) rsig.push(r);
      else data.push(r);
    }
    if (data.length > 1) sortSmall(data, this.ord.cmpRR);
    if (rsig.length > 1) sortSmall(rsig, this.ord.cmpRdata);

    const labels = nn.nLabels[id]!;
    let flags = this.inherited();
    if (labels === this.apexLabels) flags |= NODE_APEX;
    if (nn.nameBytes[nn.nOff[id]!] === 1 && nn.nameBytes[nn.nOff[id]! + 1] === 0x2a) flags |= NODE_WILDCARD;
    let hasNs = false;
    for (let x = 0; x < data.length; x++) {
      const t = types[data[x]!]!;
      if (t === RRType.NS) hasNs = true;
      else if (t === RRType.NSEC) flags |= NODE_HAS_NSEC;
      else if (t === RRType.DNAME) flags |= NODE_HAS_DNAME;
    }
    if (hasNs && !(flags & (NODE_APEX | NODE_BELOW_CUT | NODE_BELOW_DNAME))) flags |= NODE_CUT;
    const k = this.addName(nn.nOff[id]!, nn.nLen[id]!, ko, kl, labels, flags);
    this.addSets(k, flags);
    st.push(k);
  }

  /** The sets of name k from the sorted `data`, each with the RRSIGs that cover it. */
  private addSets(k: number, flags: number): void {
    const table = this.table;
    const types = table.type;
    const sets = this.sets;
    const data = this.data;
    const rsig = this.rsig;
    const cmpRdata = this.ord.cmpRdata;
    const orphans = this.orphans;
    orphans.length = 0;
    let g = 0;
    let x = 0;
    while (x < data.length) {
      const t = types[data[x]!]!;
      const s = sets.count++;
      sets.name[s] = k;
      sets.type[s] = t;
      sets.rrFirst[s] = this.rrUsed;
      let minTtl = table.ttl[data[x]!]!;
      let ttlsDiffer = false;
      let prev = -1;
      while (x < data.length && types[data[x]!] === t) {
        const r = data[x++]!;
        if (prev >= 0 && cmpRdata(prev, r) === 0) {
          this.duplicates++;
          continue;
        }
        const ttl = table.ttl[r]!;
        if (ttl !== minTtl) {
          ttlsDiffer = true;
          if (ttl < minTtl) minTtl = ttl;
        }
        this.rrs[this.rrUsed++] = r;
        prev = r;
      }
      sets.rrCount[s] = this.rrUsed - sets.rrFirst[s]!;
      sets.ttl[s] = minTtl;
      sets.flags[s] = rrsetFlags(flags, t) | (ttlsDiffer ? SET_TTLS_DIFFER : 0);
      if (ttlsDiffer) {
        const o = this.names.off[k]!;
        this.warnings.push(
          `${nameToText(this.names.bytes.subarray(o, o + this.names.len[k]!))} ${typeToName(t)}: RRs of one RRset have different TTLs`,
        );
      }
      sets.sigFirst[s] = this.sigUsed;
      let prevSig = -1;
      while (g < rsig.length) {
        const r = rsig[g]!;
        const covered = coveredType(table, r);
        if (covered > t) break;
        g++;
        if (covered < t) {
          orphans.push(r);
          continue;
        }
        if (prevSig >= 0 && cmpRdata(prevSig, r) === 0) {
          this.duplicates++;
          continue;
        }
        this.sigs[this.sigUsed++] = r;
        prevSig = r;
      }
      sets.sigCount[s] = this.sigUsed - sets.sigFirst[s]!;
    }
    while (g < rsig.length) orphans.push(rsig[g++]!);
    const names = this.names;
    names.setCount[k] = sets.count - names.setFirst[k]!;
    names.orphanFirst[k] = this.sigUsed;
    let prev = -1;
    for (let q = 0; q < orphans.length; q++) {
      const r = orphans[q]!;
      if (prev >= 0 && cmpRdata(prev, r) === 0) {
        this.duplicates++;
        continue;
      }
      this.sigs[this.sigUsed++] = r;
      prev = r;
    }
    names.orphanCount[k] = this.sigUsed - names.orphanFirst[k]!;
  }
}

/**
 * Groups, orders, de-duplicates and classifies the records of `table` into a Zone. The table is
 * kept (the zone's RDATA lives in it). Throws ZoneError when the records are not one zone.
 */
export function buildZone(table: RecordTable, options: ZoneBuildOptions = {}): Zone {
  const groups = groupOwners(table);
  const { soaIdx, soaDistinct } = groups;
  if (soaIdx < 0) throw new ZoneError('zone', 'no SOA record: not a zone (truncated or empty input?)');
  if (soaDistinct > 1) throw new ZoneError('zone', `${soaDistinct} different SOA records; a zone has exactly one`);
  const origin = table.owner(soaIdx).slice();
  for (let k = 0; k < origin.length; k++) origin[k] = lc(origin[k]!);
  if (options.origin && compareBytes(canonicalKey(options.origin), canonicalKey(origin)) !== 0) {
    throw new ZoneError('zone', `SOA is at ${nameToText(origin)} but the zone was expected at ${nameToText(options.origin)}`);
  }
  const soaRd = table.rdata(soaIdx);
  if (soaRd.length < 22) throw new ZoneError('zone', 'SOA RDATA is too short');
  const se = soaRd.length;
  const soa: SoaFields = {
    ttl: table.ttl[soaIdx]!,
    serial: u32(soaRd, se - 20),
    refresh: u32(soaRd, se - 16),
    retry: u32(soaRd, se - 12),
    expire: u32(soaRd, se - 8),
    minimum: u32(soaRd, se - 4),
  };
  const nn = nodeNames(table, groups.rep, origin, options.outOfZone ?? 'drop');
  sortNames(nn);
  const { start, order } = groupRecords(groups.nodeOf, groups.rep.length, nn.inZone);
  const { canonBytes, canonOff } = canonicalize(table);
  const asm = new Assembler(table, nn, new RdataOrder(table, canonBytes, canonOff));
  for (let rk = 0; rk < nn.inZone.length; rk++) asm.node(nn.inZone[rk]!, order, start[rk]!, start[rk + 1]!);
  const warnings = asm.warnings;
  if (nn.dropped) {
    const more = nn.dropped > nn.droppedNames.length ? ` and ${nn.dropped - nn.droppedNames.length} more` : '';
    warnings.unshift(`ignoring out-of-zone data: ${nn.droppedNames.join(', ')}${more} (not under ${nameToText(origin)}; left out of the digest and the image)`);
  }
  if (asm.duplicates) warnings.push(`${asm.duplicates} duplicate records removed`);

  const { sets } = asm;
  // counted by type number first: a name and a string-keyed update per RRset took a few ms
  // of a cold check of the root
  const perType = new Map<number, number>();
  let recordCount = 0;
  for (let s = 0; s < sets.count; s++) {
    const t = sets.type[s]!;
    perType.set(t, (perType.get(t) ?? 0) + sets.rrCount[s]!);
    recordCount += sets.rrCount[s]!;
  }
  const typeCounts: Record<string, number> = {};
  for (const [t, n] of perType) {
    const name = typeToName(t);
    typeCounts[name] = (typeCounts[name] ?? 0) + n;
  }
  if (asm.sigUsed) typeCounts.RRSIG = asm.sigUsed;
  recordCount += asm.sigUsed;

  return {
    origin,
    class: table.cls,
    soa,
    table,
    names: asm.names,
    sets,
    rrs: asm.rrs.subarray(0, asm.rrUsed),
    sigs: asm.sigs.subarray(0, asm.sigUsed),
    canonBytes,
    canonOff,
    recordCount,
    typeCounts,
    duplicates: asm.duplicates,
    warnings,
  };
}

function sameRdata(t: RecordTable, a: number, b: number): boolean {
  const n = t.rdLen[a]!;
  if (n !== t.rdLen[b]) return false;
  const x = t.rdOff[a]!;
  const y = t.rdOff[b]!;
  for (let k = 0; k < n; k++) if (t.bytes[x + k] !== t.bytes[y + k]) return false;
  return true;
}

/** Type covered by the RRSIG at record r (-1 when its RDATA is too short to say). */
export function coveredType(t: RecordTable, r: number): number {
  if (t.rdLen[r]! < 2) return -1;
  const o = t.rdOff[r]!;
  return (t.bytes[o]! << 8) | t.bytes[o + 1]!;
}

function rrsetFlags(nodeFlags: number, type: number): number {
  const address = type === RRType.A || type === RRType.AAAA;
  if (nodeFlags & NODE_BELOW_DNAME) return SET_OCCLUDED;
  if (nodeFlags & NODE_BELOW_CUT) return address ? SET_GLUE : SET_OCCLUDED;
  if (nodeFlags & NODE_CUT) {
    if (type === RRType.NS) return SET_DELEGATION;
    if (type === RRType.DS || type === RRType.NSEC) return SET_AUTH;
    return address ? SET_GLUE : SET_OCCLUDED;
  }
  return SET_AUTH;
}

/** The lower-case wire name of name index k. */
export function nameAt(zone: Zone, k: number): Uint8Array {
  const o = zone.names.off[k]!;
  return zone.names.bytes.subarray(o, o + zone.names.len[k]!);
}

/** Canonical RDATA of record r. */
export function canonicalAt(zone: Zone, r: number): Uint8Array {
  const c = zone.canonOff[r]!;
  if (c < 0) return zone.table.rdata(r);
  return zone.canonBytes.subarray(c, c + zone.table.rdLen[r]!);
}

/** Index of the set of `type` at name k, or -1. */
export function findSet(zone: Zone, k: number, type: number): number {
  const first = zone.names.setFirst[k]!;
  const end = first + zone.names.setCount[k]!;
  for (let s = first; s < end; s++) if (zone.sets.type[s] === type) return s;
  return -1;
}

/** Every RR of the zone as records (canonical order, RRSIGs after the set they cover). */
export function* zoneRecords(zone: Zone): Generator<ZoneRecord> {
  const { names, sets, table } = zone;
  for (let k = 0; k < names.count; k++) {
    const owner = nameAt(zone, k);
    for (let s = names.setFirst[k]!; s < names.setFirst[k]! + names.setCount[k]!; s++) {
      for (let q = sets.rrFirst[s]!; q < sets.rrFirst[s]! + sets.rrCount[s]!; q++) {
        const r = zone.rrs[q]!;
        yield { owner, type: table.type[r]!, class: zone.class, ttl: table.ttl[r]!, rdata: table.rdata(r) };
      }
      for (let q = sets.sigFirst[s]!; q < sets.sigFirst[s]! + sets.sigCount[s]!; q++) {
        const r = zone.sigs[q]!;
        yield { owner, type: RRType.RRSIG, class: zone.class, ttl: table.ttl[r]!, rdata: table.rdata(r) };
      }
    }
    for (let q = names.orphanFirst[k]!; q < names.orphanFirst[k]! + names.orphanCount[k]!; q++) {
      const r = zone.sigs[q]!;
      yield { owner, type: RRType.RRSIG, class: zone.class, ttl: table.ttl[r]!, rdata: table.rdata(r) };
    }
  }
}

/** Builds a zone from record objects (tests, small zones). */
export function zoneFromRecords(records: Iterable<ZoneRecord>, options: ZoneBuildOptions = {}): Zone {
  const t = new RecordTable();
  for (const r of records) t.addRecord(r);
  return buildZone(t, options);
}


