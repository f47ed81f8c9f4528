/**
 * DNSKEY handling with WebCrypto: key tags (RFC 4034 appendix B), DS digests (RFC 4509,
 * RFC 6605), and importing public keys for RSASHA256/512 (RFC 5702), ECDSA P-256/P-384
 * (RFC 6605) and Ed25519 (RFC 8080). Other algorithms are reported as unsupported, never
 * guessed at.
 */

import { bufferSource, digest } from './web-crypto.js';

export const SUPPORTED_ALGORITHMS: readonly number[] = [8, 10, 13, 14, 15];

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
}

/** The public key of a DNSKEY as a JWK (RFC 3110, RFC 6605, RFC 8080 layouts); null if unsupported. */
export function dnskeyJwk(info: DnskeyInfo): JsonWebKey | null {
  const k = info.publicKey;
  switch (info.algorithm) {
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
      if (k.length !== 32) throw new Error(`Ed25519 key is ${k.length} octets, expected 32`);
      return { kty: 'OKP', crv: 'Ed25519', x: b64url(k, false), ext: true };
    default:
      return null;
  }
}

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
      const hash = info.algorithm === 8 ? 'SHA-256' : 'SHA-512';
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
    default:
      return null;
  }
}

export async function verifySignature(key: VerifyKey, signature: Uint8Array, data: Uint8Array): Promise<boolean> {
  try {
    return await crypto.subtle.verify(key.params, key.key, bufferSource(signature), bufferSource(data));
  } catch {
    return false;
  }
}
