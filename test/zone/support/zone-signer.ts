/**
 * A small DNSSEC signer for tests, on WebCrypto, so the verifier can be tested with every
 * algorithm and every way a signature can be wrong without external tools. It signs what
 * buildZone calls authoritative, the way a real signer would (delegation NS and glue unsigned).
 */

import { RRType } from '../../../host/core/dns/rr-types.js';
import { base64UrlDecode, nameToText } from '../../../host/core/dns/wire.js';
import {
  canonicalRdata,
  dsDigest,
  keyTag,
  nameAt,
  nameFromText,
  zoneFromRecords,
  zoneRecords,
  NODE_BELOW_CUT,
  NODE_BELOW_DNAME,
  NODE_ENT,
  SET_AUTH,
  SET_DELEGATION,
  type ZoneRecord,
} from '../../../host/core/zone/index.js';

export type Algorithm = 8 | 10 | 13 | 14 | 15 | 16;

export interface TestKey {
  algorithm: Algorithm;
  flags: number;
  rdata: Uint8Array;
  tag: number;
  privateKey: CryptoKey;
}

export async function makeKey(algorithm: Algorithm, flags = 256): Promise<TestKey> {
  let pair: CryptoKeyPair;
  let pub: Uint8Array;
  if (algorithm === 8 || algorithm === 10) {
    pair = (await crypto.subtle.generateKey(
      { name: 'RSASSA-PKCS1-v1_5', modulusLength: 1024, publicExponent: new Uint8Array([1, 0, 1]), hash: algorithm === 8 ? 'SHA-256' : 'SHA-512' },
      true,
      ['sign', 'verify'],
    )) as CryptoKeyPair;
    const jwk = await crypto.subtle.exportKey('jwk', pair.publicKey);
    const e = base64UrlDecode(jwk.e!)!;
    const n = base64UrlDecode(jwk.n!)!;
    pub = new Uint8Array(1 + e.length + n.length);
    pub[0] = e.length;
    pub.set(e, 1);
    pub.set(n, 1 + e.length);
  } else if (algorithm === 13 || algorithm === 14) {
    pair = (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: algorithm === 13 ? 'P-256' : 'P-384' }, true, [
      'sign',
      'verify',
    ])) as CryptoKeyPair;
    pub = new Uint8Array(await crypto.subtle.exportKey('raw', pair.publicKey)).subarray(1);
  } else {
    const name = algorithm === 15 ? 'Ed25519' : 'Ed448';
    pair = (await crypto.subtle.generateKey({ name }, true, ['sign', 'verify'])) as CryptoKeyPair;
    pub = new Uint8Array(await crypto.subtle.exportKey('raw', pair.publicKey));
  }
  const rdata = new Uint8Array(4 + pub.length);
  rdata[0] = flags >>> 8;
  rdata[1] = flags & 0xff;
  rdata[2] = 3;
  rdata[3] = algorithm;
  rdata.set(pub, 4);
  return { algorithm, flags, rdata, tag: keyTag(rdata), privateKey: pair.privateKey };
}

function signParams(alg: Algorithm): AlgorithmIdentifier | EcdsaParams {
  if (alg === 8 || alg === 10) return { name: 'RSASSA-PKCS1-v1_5' };
  if (alg === 13) return { name: 'ECDSA', hash: 'SHA-256' };
  if (alg === 14) return { name: 'ECDSA', hash: 'SHA-384' };
  return { name: alg === 15 ? 'Ed25519' : 'Ed448' };
}

function u32(v: number): number[] {
  return [(v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff];
}

export interface SignOptions {
  origin: string;
  ksk: TestKey;
  zsk: TestKey;
  /** Seconds since the epoch. */
  inception: number;
  expiration: number;
  /** Add an NSEC chain (default true). */
  nsec?: boolean;
}

function lower(name: Uint8Array): Uint8Array {
  return name.map((c) => (c >= 0x41 && c <= 0x5a ? c + 0x20 : c));
}

/** One RRSIG over `rrs` (one RRset, same owner/type) by `key`. */
export async function signRRset(
  rrs: ZoneRecord[],
  key: TestKey,
  signer: Uint8Array,
  inception: number,
  expiration: number,
  labelsOverride?: number,
): Promise<ZoneRecord> {
  const first = rrs[0]!;
  let labels = 0;
  for (let i = 0; first.owner[i] !== 0; i += first.owner[i]! + 1) labels++;
  if (first.owner[0] === 1 && first.owner[1] === 0x2a) labels--;
  if (labelsOverride !== undefined) labels = labelsOverride;
  const head = Uint8Array.from([
    first.type >>> 8,
    first.type & 0xff,
    key.algorithm,
    labels,
    ...u32(first.ttl),
    ...u32(expiration),
    ...u32(inception),
    key.tag >>> 8,
    key.tag & 0xff,
    ...lower(signer),
  ]);
  const canon = rrs.map((r) => canonicalRdata(r.type, r.rdata)).sort((a, b) => {
    for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
    return a.length - b.length;
  });
  const owner = lower(first.owner);
  const parts: number[] = [...head];
  for (const c of canon) {
    parts.push(...owner, first.type >>> 8, first.type & 0xff, first.class >>> 8, first.class & 0xff, ...u32(first.ttl));
    parts.push(c.length >>> 8, c.length & 0xff, ...c);
  }
  const sig = new Uint8Array(await crypto.subtle.sign(signParams(key.algorithm), key.privateKey, Uint8Array.from(parts)));
  const rdata = new Uint8Array(head.length + sig.length);
  rdata.set(head);
  rdata.set(sig, head.length);
  return { owner: first.owner, type: RRType.RRSIG, class: first.class, ttl: first.ttl, rdata };
}

function typeBitmap(types: number[]): number[] {
  const sorted = [...new Set(types)].sort((a, b) => a - b);
  const out: number[] = [];
  let i = 0;
  while (i < sorted.length) {
    const win = sorted[i]! >>> 8;
    const bits = new Array<number>(32).fill(0);
    let max = 0;
    while (i < sorted.length && sorted[i]! >>> 8 === win) {
      const low = sorted[i]! & 0xff;
      bits[low >>> 3]! |= 0x80 >>> (low & 7);
      max = Math.max(max, low >>> 3);
      i++;
    }
    out.push(win, max + 1, ...bits.slice(0, max + 1));
  }
  return out;
}

/** Signs a zone: adds the DNSKEYs, an NSEC chain and an RRSIG over every authoritative RRset. */
export async function signZone(input: ZoneRecord[], o: SignOptions): Promise<ZoneRecord[]> {
  const origin = nameFromText(o.origin);
  const records = [...input];
  const soa = records.find((r) => r.type === RRType.SOA)!;
  for (const k of [o.ksk, o.zsk]) records.push({ owner: origin, type: RRType.DNSKEY, class: soa.class, ttl: soa.ttl, rdata: k.rdata });
  if (o.nsec !== false) {
    const z = zoneFromRecords(records);
    const chain: number[] = [];
    for (let k = 0; k < z.names.count; k++) if (!(z.names.flags[k]! & (NODE_ENT | NODE_BELOW_CUT | NODE_BELOW_DNAME))) chain.push(k);
    const minimum = z.soa.minimum;
    chain.forEach((k, i) => {
      const next = chain[(i + 1) % chain.length]!;
      // the NSEC is signed, so RRSIG is present at every name in the chain (RFC 4034 §4.1.2)
      const types: number[] = [RRType.NSEC, RRType.RRSIG];
      for (let s = z.names.setFirst[k]!; s < z.names.setFirst[k]! + z.names.setCount[k]!; s++) {
        if (z.sets.flags[s]! & (SET_AUTH | SET_DELEGATION)) types.push(z.sets.type[s]!);
      }
      const nextName = z.names.bytes.subarray(z.names.off[next]!, z.names.off[next]! + z.names.len[next]!);
      const owner = z.names.bytes.slice(z.names.off[k]!, z.names.off[k]! + z.names.len[k]!);
      records.push({ owner, type: RRType.NSEC, class: soa.class, ttl: minimum, rdata: Uint8Array.from([...nextName, ...typeBitmap(types)]) });
    });
  }
  const zone = zoneFromRecords(records);
  const out: ZoneRecord[] = [];
  const groups = new Map<string, ZoneRecord[]>();
  const auth = new Set<string>();
  for (let k = 0; k < zone.names.count; k++) {
    for (let s = zone.names.setFirst[k]!; s < zone.names.setFirst[k]! + zone.names.setCount[k]!; s++) {
      if (zone.sets.flags[s]! & SET_AUTH) auth.add(`${nameToText(nameAt(zone, k))}/${zone.sets.type[s]}`);
    }
  }
  for (const r of zoneRecords(zone)) {
    out.push(r);
    const key = `${nameToText(r.owner)}/${r.type}`;
    if (!auth.has(key)) continue;
    const g = groups.get(key) ?? [];
    g.push(r);
    groups.set(key, g);
  }
  for (const [key, rrs] of groups) {
    const type = Number(key.slice(key.lastIndexOf('/') + 1));
    const signers = type === RRType.DNSKEY ? [o.ksk] : [o.zsk];
    for (const key of signers) out.push(await signRRset(rrs, key, origin, o.inception, o.expiration));
  }
  return out;
}

export async function dsFor(key: TestKey, origin: string, digestType = 2): Promise<Uint8Array> {
  const d = (await dsDigest(nameFromText(origin), key.rdata, digestType))!;
  return Uint8Array.from([key.tag >>> 8, key.tag & 0xff, key.algorithm, digestType, ...d]);
}
