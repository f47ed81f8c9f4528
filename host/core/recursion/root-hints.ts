/**
 * Root hints: where priming (RFC 8109) starts when no verified local root copy is in service.
 * The IANA hints are built in; a hints file in the usual `named.root` form replaces them:
 *
 * ```
 * .                        3600000      NS    A.ROOT-SERVERS.NET.
 * A.ROOT-SERVERS.NET.      3600000      A     198.41.0.4
 * A.ROOT-SERVERS.NET.      3600000      AAAA  2001:503:ba3e::2:30
 * ```
 *
 * One record a line (`;` comments), read with the zone presentation parser: NS records owned
 * by the root, A and AAAA records owned by those NS names, nothing else. Every refusal names
 * `file:line:column`.
 */

import { RRType, RRClass, typeToName } from '../dns/rr-types.js';
import { nameToText, textToName } from '../dns/wire.js';
import { ZoneError } from '../zone/errors.js';
import { parsePresentationAll } from '../zone/presentation-parser.js';
import { addressOf, nameKey } from './names.js';

export interface RootServer {
  /** The NS name, wire form. */
  name: Uint8Array;
  /** IPv4 and IPv6 addresses, as text. */
  addresses: string[];
}

export interface RootHints {
  servers: RootServer[];
}

/** IANA's named.root of 18 April 2024 (root zone 2024041801): b.root-servers.net's new addresses. */
const IANA: Array<[string, string, string]> = [
  ['a', '198.41.0.4', '2001:503:ba3e::2:30'],
  ['b', '170.247.170.2', '2801:1b8:10::b'],
  ['c', '192.33.4.12', '2001:500:2::c'],
  ['d', '199.7.91.13', '2001:500:2d::d'],
  ['e', '192.203.230.10', '2001:500:a8::e'],
  ['f', '192.5.5.241', '2001:500:2f::f'],
  ['g', '192.112.36.4', '2001:500:12::d0d'],
  ['h', '198.97.190.53', '2001:500:1::53'],
  ['i', '192.36.148.17', '2001:7fe::53'],
  ['j', '192.58.128.30', '2001:503:c27::2:30'],
  ['k', '193.0.14.129', '2001:7fd::1'],
  ['l', '199.7.83.42', '2001:500:9f::42'],
  ['m', '202.12.27.33', '2001:dc3::35'],
];

export const IANA_ROOT_HINTS: RootHints = {
  servers: IANA.map(([l, v4, v6]) => ({ name: textToName(`${l}.root-servers.net.`), addresses: [v4, v6] })),
};

/** Hints for servers given as addresses only (tests, a private root): NS names are made up. */
export function hintsFromAddresses(addresses: string[]): RootHints {
  return { servers: addresses.map((a, i) => ({ name: textToName(`hint${i}.root-hints.invalid.`), addresses: [a] })) };
}

/**
 * Parses a hints file. Throws ZoneError (with `file:line:column`) on a syntax error, a record
 * that has no place in hints, an address for a name no NS record lists, or a file without a
 * single usable address.
 */
export async function parseRootHints(text: string, file = 'root hints'): Promise<RootHints> {
  const lines = text.split(/\r?\n/);
  const ns: Array<{ name: Uint8Array; line: number }> = [];
  const addrs: Array<{ owner: Uint8Array; address: string; line: number }> = [];
  let lastOwner = '';
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const body = line.replace(/;.*$/, '');
    if (body.trim() === '') continue;
    const at = (column: number) => ({ file, line: i + 1, column });
    if (/^\s*\$/.test(body)) throw new ZoneError('syntax', `directives have no place in a hints file`, at(body.search(/\S/) + 1));
    // A line that starts blank belongs to the previous owner (RFC 1035 §5.1).
    const ownerText = /^\s/.test(body) ? lastOwner : body.split(/\s+/)[0]!;
    const input = /^\s/.test(body) ? ownerText + body : body;
    if (!/^\s/.test(body)) lastOwner = ownerText;
    let records;
    try {
      records = await parsePresentationAll(input, { file, origin: '.', defaultTtl: 3_600_000 });
    } catch (e) {
      if (e instanceof ZoneError && e.position) {
        const shift = /^\s/.test(body) ? ownerText.length : 0;
        throw new ZoneError(e.code, e.detail, at(Math.max(1, e.position.column - shift)));
      }
      throw e;
    }
    for (const r of records) {
      if (r.class !== RRClass.IN) throw new ZoneError('zone', `hints are class IN`, at(1));
      if (r.type === RRType.NS) {
        if (r.owner.length !== 1) throw new ZoneError('zone', `NS record owned by ${nameToText(r.owner)}: hints list the root's NS records`, at(1));
        ns.push({ name: r.rdata, line: i + 1 });
      } else if (r.type === RRType.A || r.type === RRType.AAAA) {
        addrs.push({ owner: r.owner, address: addressOf(r.type, r.rdata)!, line: i + 1 });
      } else {
        throw new ZoneError('zone', `a ${typeToName(r.type)} record has no place in a hints file (NS, A and AAAA only)`, at(1));
      }
    }
  }
  const servers = new Map<string, RootServer>();
  for (const n of ns) if (!servers.has(nameKey(n.name))) servers.set(nameKey(n.name), { name: n.name, addresses: [] });
  for (const a of addrs) {
    const s = servers.get(nameKey(a.owner));
    if (!s) throw new ZoneError('zone', `address for ${nameToText(a.owner)}, which no NS record of the root names`, { file, line: a.line, column: 1 });
    if (!s.addresses.includes(a.address)) s.addresses.push(a.address);
  }
  const usable = [...servers.values()].filter((s) => s.addresses.length > 0);
  if (usable.length === 0) {
    throw new ZoneError('zone', `${file}: no root server with an address (a hints file needs NS records of "." and their A/AAAA records)`);
  }
  return { servers: usable };
}
