/**
 * Signed zones made at test time, with keys made at test time, by the signer every operator
 * has: `ldns-keygen` and `ldns-signzone` (Debian ldnsutils), or `dnssec-keygen` and
 * `dnssec-signzone` (bind9-utils) per zone. `signHierarchy` takes a tree of
 * zone specs (a test root, its TLDs, their children), signs it bottom-up so each parent
 * publishes its children's NS, glue and DS, and returns the zone texts for one NSD
 * (`startNsd(h.zones)`, which answers a DS query from the parent) and the root's DS as a trust
 * anchor, in zone-file form and in delv's `trust-anchors` form.
 *
 * Ways a zone can be wrong, for validators to catch, are spec fields: `validity` (expired, not
 * yet valid), `parentDs` (none: an insecure delegation; mismatch: a DS for a key the zone does
 * not have; or any DS lines), `wrongKey` (data signed by a key missing from the DNSKEY set),
 * `tamper` (edit the signed text: drop an RRSIG, add records), `extraKeys` (more DNSKEYs in the
 * set). `keytrapZone` builds the KeyTrap shape (CVE-2023-50387): many DNSKEYs sharing one key
 * tag and many signatures by that tag over one RRset, none of them valid.
 */

import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export type SignAlgorithm = 'RSASHA1' | 'RSASHA1-NSEC3-SHA1' | 'RSASHA256' | 'RSASHA512' | 'ECDSAP256SHA256' | 'ECDSAP384SHA384' | 'ED25519' | 'ED448' | 'DSA';

export interface ZoneSpec {
  /** Absolute name: "." or "example.test.". */
  name: string;
  /** More records, in zone-file form relative to the zone (SOA, apex NS and its address are added). */
  records?: string;
  /** Default true. */
  signed?: boolean;
  algorithm?: SignAlgorithm;
  /** Key size for RSA and DSA (default 1024: fast, and these keys live for one test run). */
  bits?: number;
  nsec3?: { iterations?: number; salt?: string; optOut?: boolean };
  /**
   * `ldns` (default: ldns-keygen, ldns-signzone) or `bind` (dnssec-keygen, dnssec-signzone).
   * With Opt-Out, dnssec-signzone leaves unsigned delegations out of the NSEC3 chain, as
   * RFC 5155 §6 allows; ldns-signzone only sets the flag.
   */
  tool?: 'ldns' | 'bind';
  /** Seconds since the epoch (default: from an hour ago to 30 days ahead). */
  validity?: { inception: number; expiration: number };
  /**
   * What the parent publishes for this zone (default: the SHA-256 DS of its KSK when signed,
   * none when not): `digests` lists the DS digest types to publish (1 SHA-1, 2 SHA-256,
   * 4 SHA-384; any other number gets a DS with that type and a made-up digest).
   */
  parentDs?: 'ds' | 'none' | 'mismatch' | { lines: string[] } | { digests: number[] };
  /** Sign the data with a ZSK whose DNSKEY is not published (another ZSK is). */
  wrongKey?: boolean;
  /** DNSKEY lines to add to the key set before signing, given the zone's generated keys. */
  extraKeys?: (keys: ZoneKeys) => string[];
  /** Edits the signed zone text before it is served. */
  tamper?: (text: string, keys: ZoneKeys) => string;
  children?: ZoneSpec[];
}

export interface KeyFiles {
  /** ldns base name (K<zone>+<alg>+<tag>), in the zone's directory. */
  base: string;
  tag: number;
  /** The DNSKEY record line. */
  dnskey: string;
  /** The DS record line (SHA-256); empty for a ZSK. */
  ds: string;
}

export interface ZoneKeys {
  ksk: KeyFiles;
  zsk: KeyFiles;
}

export interface SignedZone {
  name: string;
  text: string;
  signed: boolean;
  keys: ZoneKeys | null;
  /** The DS lines the parent publishes. */
  parentDs: string[];
  /** The same zone signed again with the same keys for another validity window (signed zones only). */
  resign?: (validity: { inception: number; expiration: number }) => string;
}

export interface SignedHierarchy {
  dir: string;
  /** Zone name → zone text, parents first (what `startNsd` takes). */
  zones: Record<string, string>;
  byName: Map<string, SignedZone>;
  /** The top zone's DS lines: its trust anchor. */
  anchorDs: string[];
  /** Writes the trust anchor in zone-file form (what `parseTrustAnchors` reads); returns the path. */
  anchorFile(): string;
  /** Writes it as delv's `-a` file (`trust-anchors { NAME static-ds ...; };`); returns the path. */
  delvAnchorFile(): string;
}

const DAY = 86_400;

export function keyTagOf(dnskeyLine: string): number {
  const rdata = dnskeyRdata(dnskeyLine);
  let ac = 0;
  for (let i = 0; i < rdata.length; i++) ac += i & 1 ? rdata[i]! : rdata[i]! << 8;
  ac += (ac >>> 16) & 0xffff;
  return ac & 0xffff;
}

/** DNSKEY RDATA of a DNSKEY line (`owner [ttl] [class] DNSKEY flags proto alg base64...`). */
export function dnskeyRdata(line: string): Uint8Array {
  const f = line.replace(/;.*$/, '').trim().split(/\s+/);
  const i = f.indexOf('DNSKEY');
  const key = Buffer.from(f.slice(i + 4).join(''), 'base64');
  const out = new Uint8Array(4 + key.length);
  const flags = Number(f[i + 1]);
  out[0] = flags >> 8;
  out[1] = flags & 0xff;
  out[2] = Number(f[i + 2]);
  out[3] = Number(f[i + 3]);
  out.set(key, 4);
  return out;
}

function keygen(dir: string, zone: string, alg: SignAlgorithm, ksk: boolean, bits?: number): KeyFiles {
  const args = ['-a', alg];
  if (bits && (alg.startsWith('RSA') || alg === 'DSA')) args.push('-b', String(bits));
  if (ksk) args.push('-k');
  const before = new Set(readdirSync(dir));
  const base = execFileSync('ldns-keygen', [...args, zone], { cwd: dir, encoding: 'utf8' }).trim();
  if (!base || before.has(`${base}.key`)) throw new Error(`ldns-keygen gave no new key for ${zone}`);
  const dnskey = readFileSync(join(dir, `${base}.key`), 'utf8').trim();
  // ldns-keygen writes a .ds for a KSK only; a ZSK's is made the same way when asked for
  const ds = ksk ? readFileSync(join(dir, `${base}.ds`), 'utf8').trim() : '';
  return { base, tag: keyTagOf(dnskey), dnskey, ds };
}

function bindKeygen(dir: string, zone: string, alg: SignAlgorithm, ksk: boolean, bits?: number): KeyFiles {
  const args = ['-q', '-K', dir, '-a', alg, '-n', 'ZONE'];
  if (bits && alg.startsWith('RSA')) args.push('-b', String(bits));
  if (ksk) args.push('-f', 'KSK');
  const base = execFileSync('dnssec-keygen', [...args, zone], { cwd: dir, encoding: 'utf8' }).trim();
  const dnskey = readFileSync(join(dir, `${base}.key`), 'utf8')
    .split('\n')
    .find((l) => /\sDNSKEY\s/.test(l) && !l.startsWith(';'))!
    .trim();
  const ds = ksk ? execFileSync('dnssec-dsfromkey', ['-2', join(dir, `${base}.key`)], { encoding: 'utf8' }).trim() : '';
  return { base, tag: keyTagOf(dnskey), dnskey, ds };
}

function bindTime(sec: number): string {
  return new Date(sec * 1000).toISOString().replace(/[-:T]/g, '').slice(0, 14);
}

function zoneDir(root: string, name: string): string {
  const d = join(root, name === '.' ? 'root' : name.replace(/\.$/, ''));
  mkdirSync(d, { recursive: true });
  return d;
}

/**
 * Signs `top` and everything below it. `nsAddress` is the IPv4 address every zone's name
 * server (`ns.<zone>`) has: the NSD that serves them all.
 */
export function signHierarchy(top: ZoneSpec, options: { nsAddress: string; dir?: string }): SignedHierarchy {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'edge-signer-'));
  const byName = new Map<string, SignedZone>();
  const order: string[] = [];
  const sign = (spec: ZoneSpec): SignedZone => {
    const children = (spec.children ?? []).map(sign);
    const zone = signZone(spec, children, options.nsAddress, zoneDir(dir, spec.name));
    byName.set(spec.name, zone);
    order.unshift(spec.name);
    return zone;
  };
  const topZone = sign(top);
  // parents before children
  const sorted = [...order].sort((a, b) => labels(a) - labels(b));
  const zones: Record<string, string> = {};
  for (const n of sorted) zones[n] = byName.get(n)!.text;
  const anchorDs = topZone.keys ? [topZone.keys.ksk.ds] : [];
  return {
    dir,
    zones,
    byName,
    anchorDs,
    anchorFile: () => {
      const f = join(dir, 'anchor.ds');
      writeFileSync(f, anchorDs.join('\n') + '\n');
      return f;
    },
    delvAnchorFile: () => {
      const f = join(dir, 'delv-anchor.conf');
      const lines = anchorDs.map((l) => {
        const p = l.split(/\s+/);
        const i = p.indexOf('DS');
        return `  "${p[0]}" static-ds ${p[i + 1]} ${p[i + 2]} ${p[i + 3]} "${p.slice(i + 4).join('')}";`;
      });
      writeFileSync(f, `trust-anchors {\n${lines.join('\n')}\n};\n`);
      return f;
    },
  };
}

function labels(name: string): number {
  return name === '.' ? 0 : name.replace(/\.$/, '').split('.').length;
}

function signZone(spec: ZoneSpec, children: SignedZone[], nsAddress: string, dir: string): SignedZone {
  const name = spec.name;
  const ns = name === '.' ? 'ns.' : `ns.${name}`;
  const lines = [
    `$ORIGIN ${name}`,
    '$TTL 300',
    `@ IN SOA ${ns} hostmaster.${name === '.' ? '' : name} 1 7200 3600 1209600 300`,
    `@ IN NS ${ns}`,
    `${ns} IN A ${nsAddress}`,
  ];
  if (spec.records) lines.push(spec.records.trim());
  for (const c of children) {
    const cns = `ns.${c.name}`;
    lines.push(`${c.name} IN NS ${cns}`, `${cns} IN A ${nsAddress}`, ...c.parentDs);
  }
  const text = lines.join('\n') + '\n';
  if (spec.signed === false) return { name, text, signed: false, keys: null, parentDs: dsFor(spec, null, dir) };

  const alg = spec.algorithm ?? 'ECDSAP256SHA256';
  const bind = spec.tool === 'bind';
  const gen = bind ? bindKeygen : keygen;
  const ksk = gen(dir, name, alg, true, spec.bits ?? 1024);
  const zsk = gen(dir, name, alg, false, spec.bits ?? 1024);
  const keys: ZoneKeys = { ksk, zsk };
  let body = text;
  const signWith = [ksk.base, zsk.base];
  const args: string[] = [];
  if (spec.wrongKey) {
    if (bind) throw new Error(`${name}: wrongKey is an ldns-signzone case`);
    // the published key set has the KSK and another ZSK; the data is signed with this ZSK
    const other = keygen(dir, name, alg, false, spec.bits ?? 1024);
    body += `${ksk.dnskey}\n${other.dnskey}\n`;
    args.push('-d');
  }
  for (const k of spec.extraKeys?.(keys) ?? []) body += `${k}\n`;
  // dnssec-signzone signs with the keys in the zone
  if (bind) body += `${ksk.dnskey}\n${zsk.dnskey}\n`;
  const input = join(dir, 'zone');
  writeFileSync(input, body);
  let round = 0;
  const signAt = (validity: { inception: number; expiration: number }): string => {
    const output = join(dir, `zone.signed.${round++}`);
    const a = [...args];
    if (bind) {
      a.push('-q', '-O', 'full', '-K', dir, '-s', bindTime(validity.inception), '-e', bindTime(validity.expiration), '-o', name);
      if (spec.nsec3) {
        a.push('-3', spec.nsec3.salt ?? '-', '-H', String(spec.nsec3.iterations ?? 0));
        if (spec.nsec3.optOut) a.push('-A');
      }
    } else {
      a.push('-i', String(validity.inception), '-e', String(validity.expiration), '-o', name);
      if (spec.nsec3) {
        a.push('-n', '-t', String(spec.nsec3.iterations ?? 0));
        if (spec.nsec3.salt) a.push('-s', spec.nsec3.salt);
        if (spec.nsec3.optOut) a.push('-p');
      }
    }
    execFileSync(bind ? 'dnssec-signzone' : 'ldns-signzone', [...a, '-f', output, input, ...signWith], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
    const text = readFileSync(output, 'utf8');
    return spec.tamper ? spec.tamper(text, keys) : text;
  };
  const now = Math.floor(Date.now() / 1000);
  const signed = signAt(spec.validity ?? { inception: now - 3600, expiration: now + 30 * DAY });
  return { name, text: signed, signed: true, keys, parentDs: dsFor(spec, keys, dir), resign: signAt };
}

function dsFor(spec: ZoneSpec, keys: ZoneKeys | null, dir: string): string[] {
  const what = spec.parentDs ?? (keys ? 'ds' : 'none');
  if (what === 'none') return [];
  if (typeof what === 'object' && 'lines' in what) return what.lines;
  if (!keys) throw new Error(`${spec.name}: a DS for an unsigned zone`);
  if (what === 'ds') return [keys.ksk.ds];
  if (typeof what === 'object') {
    return what.digests.map((d) => {
      if (d === 1 || d === 2 || d === 4) {
        return execFileSync('ldns-key2ds', ['-n', `-${d}`, `${keys.ksk.base}.key`], { cwd: dir, encoding: 'utf8' }).trim();
      }
      // a digest type nobody implements, with bytes of the SHA-256 length
      const f = keys.ksk.ds.split(/\s+/);
      const i = f.indexOf('DS');
      return [...f.slice(0, i + 3), String(d), 'AB'.repeat(32)].join('\t');
    });
  }
  // a DS for a KSK the zone never publishes
  return [keygen(dir, spec.name, spec.algorithm ?? 'ECDSAP256SHA256', true, spec.bits ?? 1024).ds];
}

/**
 * `h.zones` with zone `name` signed again with its own keys for `validity` (the parent's DS
 * still matches): the same zone as another server might serve it, say with expired
 * signatures (the 9 July 2023 incident).
 */
export function zonesWithResigned(h: SignedHierarchy, name: string, validity: { inception: number; expiration: number }): Record<string, string> {
  const z = h.byName.get(name);
  if (!z?.resign) throw new Error(`${name} is not a signed zone of this hierarchy`);
  return { ...h.zones, [name]: z.resign(validity) };
}

/** Records of the signed text: [owner, ttl, class, type, ...rdata fields] per line. */
export function recordLines(text: string): string[][] {
  return text
    .split('\n')
    .filter((l) => l.trim() && !l.startsWith(';') && !l.startsWith('$'))
    .map((l) => l.trim().split(/\s+/));
}

/** `text` without the RRSIGs over `type` at `owner` (absolute, lower case). */
export function dropSignatures(text: string, owner: string, type: string): string {
  return text
    .split('\n')
    .filter((l) => {
      const f = l.trim().split(/\s+/);
      return !(f[0]?.toLowerCase() === owner && f[3] === 'RRSIG' && f[4] === type);
    })
    .join('\n');
}

/**
 * The KeyTrap shape: a bait DNSKEY plus `keys` more that share its key tag (RSA, whose moduli
 * can be changed without the import failing) and, at `trap.<zone>`, `signatures` RRSIGs over
 * its A RRset by that tag, none valid. A validator that tries every key with every signature
 * does (keys + 1) × signatures verifications for one answer. The zone's own keys have other
 * tags, so `ok.<zone>` validates.
 */
export function keytrapZone(name: string, options: { keys?: number; signatures?: number } = {}): ZoneSpec {
  const keys = options.keys ?? 24;
  const sigs = options.signatures ?? 24;
  let baitTag = 0;
  return {
    name,
    algorithm: 'RSASHA256',
    bits: 1024,
    records: 'trap IN A 192.0.2.66\nok IN A 192.0.2.67',
    extraKeys: () => {
      const bait = rsaDnskey(name);
      baitTag = keyTagOf(bait);
      return [bait, ...collidingKeys(bait, keys)];
    },
    tamper: (text) => {
      const out: string[] = [];
      for (const line of text.split('\n')) {
        const f = line.trim().split(/\s+/);
        if (f[0]?.toLowerCase() === `trap.${name}` && f[3] === 'RRSIG' && f[4] === 'A') {
          const sig = Buffer.from(f.slice(12).join(''), 'base64');
          for (let i = 0; i < sigs; i++) {
            const bad = Buffer.from(sig);
            const at = (i * 7) % bad.length;
            bad[at] = bad[at]! ^ (1 + (i % 255));
            out.push([...f.slice(0, 10), String(baitTag), f[11], bad.toString('base64')].join('\t'));
          }
          continue;
        }
        out.push(line);
      }
      return out.join('\n');
    },
  };
}

/**
 * KeyTrap against the key set itself: the DNSKEY RRset carries `signatures` RRSIGs by the KSK's
 * tag, none valid (the real one is dropped), so every answer from the zone needs the
 * validator to get through them first.
 */
export function keytrapKeysetZone(name: string, options: { signatures?: number } = {}): ZoneSpec {
  const sigs = options.signatures ?? 24;
  return {
    name,
    records: 'www IN A 192.0.2.68',
    tamper: (text) => {
      const out: string[] = [];
      for (const line of text.split('\n')) {
        const f = line.trim().split(/\s+/);
        if (f[0]?.toLowerCase() === name && f[3] === 'RRSIG' && f[4] === 'DNSKEY') {
          const sig = Buffer.from(f.slice(12).join(''), 'base64');
          for (let i = 0; i < sigs; i++) {
            const bad = Buffer.from(sig);
            const at = (i * 5) % bad.length;
            bad[at] = bad[at]! ^ (1 + (i % 255));
            out.push([...f.slice(0, 12), bad.toString('base64')].join('\t'));
          }
          continue;
        }
        out.push(line);
      }
      return out.join('\n');
    },
  };
}

/** A fresh RSASHA256 zone-key DNSKEY line (flags 256) for `owner`; its private half is dropped. */
export function rsaDnskey(owner: string): string {
  const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 1024, publicExponent: 65537 });
  const jwk = publicKey.export({ format: 'jwk' });
  const e = Buffer.from(jwk.e!, 'base64url');
  const n = Buffer.from(jwk.n!, 'base64url');
  return `${owner}\t300\tIN\tDNSKEY\t256 3 8 ${Buffer.concat([Buffer.from([e.length]), e, n]).toString('base64')}`;
}

/** `n` DNSKEY lines with the same key tag as `dnskeyLine` and different RSA moduli. */
export function collidingKeys(dnskeyLine: string, n: number): string[] {
  const rd = dnskeyRdata(dnskeyLine);
  const tag = keyTagOf(dnskeyLine);
  const owner = dnskeyLine.trim().split(/\s+/)[0]!;
  const out: string[] = [];
  // +d on one even-offset octet and -d on another keeps the checksum (RFC 4034 appendix B)
  for (let k = 0, i = 40; out.length < n && i + 2 < rd.length; i += 2) {
    const j = i + 2;
    const d = 1 + (k++ % 3);
    if (rd[i]! + d > 255 || rd[j]! - d < 0) continue;
    const c = rd.slice();
    c[i] = c[i]! + d;
    c[j] = c[j]! - d;
    const line = `${owner}\t300\tIN\tDNSKEY\t${(c[0]! << 8) | c[1]!} ${c[2]} ${c[3]} ${Buffer.from(c.subarray(4)).toString('base64')}`;
    if (keyTagOf(line) !== tag) throw new Error('collidingKeys: tag changed');
    out.push(line);
  }
  return out;
}
