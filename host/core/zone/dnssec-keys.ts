/**
 * DNSKEY handling with WebCrypto, shared by the zone verifier and the message validator
 * (host/core/dnssec/): key tags (RFC 4034 appendix B), DS digests (RFC 4509, RFC 6605) and DS
 * matching, and importing public keys for RSASHA1 and RSASHA1-NSEC3-SHA1 (RFC 3110, RFC 5155:
 * still a MUST for validation, RFC 8624 §3.1, kept by RFC 9904; RFC 9905 retires them for
 * signing only), RSASHA256/512 (RFC 5702), ECDSA P-256/P-384
 * (RFC 6605), Ed25519 and Ed448 (RFC 8080). Other algorithms are reported as unsupported,
 * never guessed at. Ed448 is in WebCrypto on Node but not on every runtime (Workers lacks it):
 * `algorithmSupported` asks the runtime once, so a zone signed only with Ed448 is insecure
 * there (RFC 4035 §5.2), not bogus.
 */

import { bufferSource, digest } from './web-crypto.js';

/** The DNSSEC algorithms this code implements; `algorithmSupported` says which the runtime has. */
export const SUPPORTED_ALGORITHMS: readonly number[] = [5, 7, 8, 10, 13, 14, 15, 16];

export interface DnskeyInfo {
  flags: number;
  protocol: number;
  algorithm: number;
  tag: number;
  /** Zone Key bit (RFC 4034 §2.1.1): only these sign zone data. */
  zoneKey: boolean;
  /** Secure Entry Point bit: conventionally the key-signing key. */
  sep: boolean;
  /** REVOKE bit (RFC 5011). */
  revoked: boolean;
  publicKey: Uint8Array;
  rdata: Uint8Array;
}

export function keyTag(rdata: Uint8Array): number {
  let ac = 0;
  for (let i = 0; i < rdata.length; i++) ac += i & 1 ? rdata[i]! : rdata[i]! << 8;
  ac += (ac >>> 16) & 0xffff;
  return ac & 0xffff;
}

export function parseDnskey(rdata: Uint8Array): DnskeyInfo | null {
  if (rdata.length < 4) return null;
  const flags = (rdata[0]! << 8) | rdata[1]!;
  return {
    flags,
    protocol: rdata[2]!,
    algorithm: rdata[3]!,
    tag: keyTag(rdata),
    zoneKey: (flags & 0x0100) !== 0,
    sep: (flags & 0x0001) !== 0,
    revoked: (flags & 0x0080) !== 0,
    publicKey: rdata.subarray(4),
    rdata,
  };
}

const DS_DIGESTS: Record<number, { name: 'SHA-1' | 'SHA-256' | 'SHA-384'; length: number }> = {
  1: { name: 'SHA-1', length: 20 },
  2: { name: 'SHA-256', length: 32 },
  4: { name: 'SHA-384', length: 48 },
};

export function dsDigestSupported(digestType: number): boolean {
  return DS_DIGESTS[digestType] !== undefined;
}

/** The DS digest of a DNSKEY: hash(lower-case owner | DNSKEY RDATA). Null for unknown digest types. */
export async function dsDigest(owner: Uint8Array, dnskeyRdata: Uint8Array, digestType: number): Promise<Uint8Array | null> {
  const d = DS_DIGESTS[digestType];
  if (!d) return null;
  const data = new Uint8Array(owner.length + dnskeyRdata.length);
  data.set(owner);
  for (let i = 0; i < owner.length; i++) {
    const c = data[i]!;
    if (c >= 0x41 && c <= 0x5a) data[i] = c + 0x20;
  }
  data.set(dnskeyRdata, owner.length);
  return digest(d.name, data);
}

/** The fields of DS RDATA (RFC 4034 §5.1); null when it is shorter than its fixed part. */
export interface DsInfo {
  tag: number;
  algorithm: number;
  digestType: number;
  digest: Uint8Array;
}

export function parseDs(rdata: Uint8Array): DsInfo | null {
  if (rdata.length < 5) return null;
  return { tag: (rdata[0]! << 8) | rdata[1]!, algorithm: rdata[2]!, digestType: rdata[3]!, digest: rdata.subarray(4) };
}

/**
 * The DS records that can start an authentication path, given which algorithms the runtime
 * has: known digest type and algorithm. SHA-1 (digest type 1) stays usable, since RFC 8624
 * §3.3 still makes validating it a MUST, but it is ignored when the set also has a SHA-256 or
 * SHA-384 DS (RFC 4509 §3: no downgrade to the weaker digest).
 */
export function usableDs(ds: readonly DsInfo[], supported: (alg: number) => boolean): DsInfo[] {
  const ok = ds.filter((d) => dsDigestSupported(d.digestType) && supported(d.algorithm));
  return ok.some((d) => d.digestType !== 1) ? ok.filter((d) => d.digestType !== 1) : ok;
}

/** True when DNSKEY `key` (at lower-case `owner`) is the one DS `ds` names: tag, algorithm and digest. */
export async function dsMatches(owner: Uint8Array, key: DnskeyInfo, ds: DsInfo): Promise<boolean> {
  if (key.tag !== ds.tag || key.algorithm !== ds.algorithm) return false;
  const d = await dsDigest(owner, key.rdata, ds.digestType);
  if (!d || d.length !== ds.digest.length) return false;
  for (let i = 0; i < d.length; i++) if (d[i] !== ds.digest[i]) return false;
  return true;
}

/** base64url; RSA integers drop leading zero octets, EC coordinates keep their fixed width. */
function b64url(b: Uint8Array, stripZeros = true): string {
  let s = 0;
  while (stripZeros && s < b.length - 1 && b[s] === 0) s++;
  let bin = '';
  for (let i = s; i < b.length; i++) bin += String.fromCharCode(b[i]!);
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

export interface VerifyKey {
  algorithm: number;
  key: CryptoKey;
  params: AlgorithmIdentifier | RsaPssParams | EcdsaParams;
}

export interface VerifyRequest {
  /** A handle from importKey. */
  key: unknown;
  signature: Uint8Array;
  data: Uint8Array;
}

/**
 * How signatures get checked. The default is WebCrypto (Node and Workers). A host may supply
 * its own for speed: requests come in batches so one can be handed to another thread whole
 * (the Node CLI verifies on a worker thread while the main thread computes ZONEMD).
 */
export interface SignatureVerifier {
  /** A handle for verifying with this key, or null when the algorithm is not supported. */
  importKey(info: DnskeyInfo): Promise<unknown>;
  /** One result per request, in order. */
  verifyBatch(requests: VerifyRequest[]): Promise<boolean[]>;
  /**
   * Whether this verifier can check `algorithm`; without it, what the runtime's WebCrypto can
   * (`algorithmSupported`). A test passes a verifier without Ed448 to take the Workers path.
   */
  supports?(algorithm: number): boolean | Promise<boolean>;
}

/** `verifier.supports`, else what the runtime has. */
export async function verifierSupports(verifier: SignatureVerifier, algorithm: number): Promise<boolean> {
  if (!SUPPORTED_ALGORITHMS.includes(algorithm)) return false;
  return verifier.supports ? verifier.supports(algorithm) : algorithmSupported(algorithm);
}

/** The public key of a DNSKEY as a JWK (RFC 3110, RFC 6605, RFC 8080 layouts); null if unsupported. */
export function dnskeyJwk(info: DnskeyInfo): JsonWebKey | null {
  const k = info.publicKey;
  switch (info.algorithm) {
    case 5:
    case 7:
    case 8:
    case 10: {
      if (k.length < 3) throw new Error('RSA key too short');
      let p = 1;
      let elen = k[0]!;
      if (elen === 0) {
        elen = (k[1]! << 8) | k[2]!;
        p = 3;
      }
      if (elen === 0 || p + elen >= k.length) throw new Error('bad RSA exponent length');
      return { kty: 'RSA', n: b64url(k.subarray(p + elen)), e: b64url(k.subarray(p, p + elen)), ext: true };
    }
    case 13:
    case 14: {
      const size = info.algorithm === 13 ? 64 : 96;
      if (k.length !== size) throw new Error(`ECDSA key is ${k.length} octets, expected ${size}`);
      const half = size / 2;
      return {
        kty: 'EC',
        crv: info.algorithm === 13 ? 'P-256' : 'P-384',
        x: b64url(k.subarray(0, half), false),
        y: b64url(k.subarray(half), false),
        ext: true,
      };
    }
    case 15:
    case 16: {
      const [crv, size] = info.algorithm === 15 ? ['Ed25519', 32] : ['Ed448', 57];
      if (k.length !== size) throw new Error(`${crv} key is ${k.length} octets, expected ${size}`);
      return { kty: 'OKP', crv, x: b64url(k, false), ext: true };
    }
    default:
      return null;
  }
}

/** The hash of each RSA algorithm (RFC 3110, RFC 5155, RFC 5702). */
export const RSA_HASH: Readonly<Record<number, 'SHA-1' | 'SHA-256' | 'SHA-512'>> = { 5: 'SHA-1', 7: 'SHA-1', 8: 'SHA-256', 10: 'SHA-512' };

export const webCryptoVerifier: SignatureVerifier = {
  importKey: (info) => importDnskey(info),
  // WebCrypto runs each verification off the main thread; issuing them together keeps it busy
  verifyBatch: (requests) => Promise.all(requests.map((r) => verifySignature(r.key as VerifyKey, r.signature, r.data))),
};

/**
 * Imports a DNSKEY's public key for verification. Null when the algorithm is not one we
 * support; throws (caller reports the key as unusable) when the key material is malformed.
 */
export async function importDnskey(info: DnskeyInfo): Promise<VerifyKey | null> {
  const k = info.publicKey;
  switch (info.algorithm) {
    case 5:
    case 7:
    case 8:
    case 10: {
      // RFC 3110: exponent length (1 octet, or 0 then 2 octets), exponent, modulus
      if (k.length < 3) throw new Error('RSA key too short');
      let p = 1;
      let elen = k[0]!;
      if (elen === 0) {
        elen = (k[1]! << 8) | k[2]!;
        p = 3;
      }
      if (elen === 0 || p + elen >= k.length) throw new Error('bad RSA exponent length');
      const e = k.subarray(p, p + elen);
      const n = k.subarray(p + elen);
      const hash = RSA_HASH[info.algorithm]!;
      const key = await crypto.subtle.importKey(
        'jwk',
        { kty: 'RSA', n: b64url(n), e: b64url(e), ext: true },
        { name: 'RSASSA-PKCS1-v1_5', hash },
        false,
        ['verify'],
      );
      return { algorithm: info.algorithm, key, params: { name: 'RSASSA-PKCS1-v1_5' } };
    }
    case 13:
    case 14: {
      const size = info.algorithm === 13 ? 64 : 96;
      if (k.length !== size) throw new Error(`ECDSA key is ${k.length} octets, expected ${size}`);
      const raw = new Uint8Array(size + 1);
      raw[0] = 4;
      raw.set(k, 1);
      const curve = info.algorithm === 13 ? 'P-256' : 'P-384';
      const key = await crypto.subtle.importKey('raw', raw, { name: 'ECDSA', namedCurve: curve }, false, ['verify']);
      return {
        algorithm: info.algorithm,
        key,
        params: { name: 'ECDSA', hash: info.algorithm === 13 ? 'SHA-256' : 'SHA-384' },
      };
    }
    case 15: {
      if (k.length !== 32) throw new Error(`Ed25519 key is ${k.length} octets, expected 32`);
      try {
        const key = await crypto.subtle.importKey('raw', bufferSource(k), { name: 'Ed25519' }, false, ['verify']);
        return { algorithm: 15, key, params: { name: 'Ed25519' } };
      } catch {
        // older Workers runtimes name it NODE-ED25519
        const alg = { name: 'NODE-ED25519', namedCurve: 'NODE-ED25519' };
        const key = await crypto.subtle.importKey('raw', bufferSource(k), alg, false, ['verify']);
        return { algorithm: 15, key, params: alg };
      }
    }
    case 16: {
      if (k.length !== 57) throw new Error(`Ed448 key is ${k.length} octets, expected 57`);
      // a runtime without Ed448 has no path through this key: unsupported, not malformed
      if (!(await algorithmSupported(16))) return null;
      const key = await crypto.subtle.importKey('raw', bufferSource(k), { name: 'Ed448' }, false, ['verify']);
      return { algorithm: 16, key, params: { name: 'Ed448' } };
    }
    default:
      return null;
  }
}

// RFC 8032 §7.4 test 1 public key: a valid Ed448 point, for asking the runtime once
const ED448_PROBE = Uint8Array.from(
  '5fd7449b59b461fd2ce787ec616ad46a1da1342485a70e1f8a0ea75d80e96778edf124769b46c7061bd6783df1e50f6cd1fa1abeafe8256180'
    .match(/../g)!
    .map((h) => parseInt(h, 16)),
);
let ed448: Promise<boolean> | null = null;

/**
 * True when this runtime's WebCrypto can verify `algorithm` (always for 5, 7, 8, 10, 13, 14, 15;
 * Ed448 is probed once, and only when a key or anchor names it, since Node warns on first use).
 */
export function algorithmSupported(algorithm: number): Promise<boolean> | boolean {
  if (algorithm !== 16) return SUPPORTED_ALGORITHMS.includes(algorithm);
  ed448 ??= crypto.subtle
    .importKey('raw', ED448_PROBE, { name: 'Ed448' }, false, ['verify'])
    .then(
      () => true,
      () => false,
    );
  return ed448;
}

export async function verifySignature(key: VerifyKey, signature: Uint8Array, data: Uint8Array): Promise<boolean> {
  try {
    return await crypto.subtle.verify(key.params, key.key, bufferSource(signature), bufferSource(data));
  } catch {
    return false;
  }
}
