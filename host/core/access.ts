/**
 * Access control by client address (Unbound's `access-control`): a table of address ranges, each
 * allowed, refused (REFUSED with EDE 18) or denied (dropped without an answer). The most specific
 * range that holds the address decides. Under every table lie the defaults Unbound has: loopback
 * allowed, everything else refused; and the addresses of the site's peers, allowed so that cache
 * pooling works on any listener. A rule for the same range as a default replaces it
 * (`0.0.0.0/0 allow` opens IPv4 to everyone).
 *
 * The per-client query rate limit (a token bucket per address, or per IPv6 prefix) is in
 * rate-limit.ts; both are runtime-neutral and used by the Node listeners.
 */

import { parseIPv4, parseIPv6 } from './context.js';

export type AccessAction = 'allow' | 'refuse' | 'deny';
export const ACCESS_ACTIONS: readonly AccessAction[] = ['allow', 'refuse', 'deny'];

export interface AccessRule {
  /** 4 or 16 bytes, zero past the prefix. */
  bytes: Uint8Array;
  prefix: number;
  action: AccessAction;
  /** As written ("10.0.0.0/8 allow"), for the EDE text and logs. */
  text: string;
}

/** Unbound's defaults: loopback allowed, everything else refused. */
export const DEFAULT_ACCESS_RULES = ['127.0.0.0/8 allow', '::1/128 allow', '0.0.0.0/0 refuse', '::/0 refuse'];

/** The bytes of an address; an IPv4-mapped IPv6 address (a dual-stack socket's ::ffff:a.b.c.d) as IPv4. */
export function addressBytes(address: string): Uint8Array | null {
  const v4 = parseIPv4(address);
  if (v4) return Uint8Array.from(v4);
  const v6 = parseIPv6(address);
  if (!v6) return null;
  if (v6.slice(0, 10).every((b) => b === 0) && v6[10] === 0xff && v6[11] === 0xff) return Uint8Array.from(v6.slice(12));
  return Uint8Array.from(v6);
}

/** "CIDR ACTION" (an address alone is one host); a string saying what is wrong otherwise. */
export function parseAccessRule(s: string): AccessRule | string {
  const parts = s.trim().split(/\s+/);
  if (parts.length !== 2) return `"${s}" is not "ADDRESS[/PREFIX] ACTION" (e.g. "10.0.0.0/8 allow")`;
  const [range, action] = parts as [string, string];
  if (!(ACCESS_ACTIONS as readonly string[]).includes(action)) return `"${s}": the action is one of ${ACCESS_ACTIONS.join(', ')}, not "${action}"`;
  const r = parseRange(range);
  if (typeof r === 'string') return `"${s}": ${r}`;
  return { ...r, action: action as AccessAction, text: `${range} ${action}` };
}

/** "192.0.2.0/24", "2001:db8::/32", or an address alone; bits past the prefix must be zero. */
export function parseRange(range: string): { bytes: Uint8Array; prefix: number } | string {
  const slash = range.indexOf('/');
  const addr = slash < 0 ? range : range.slice(0, slash);
  const v4 = parseIPv4(addr);
  const raw = v4 ?? parseIPv6(addr);
  if (!raw) return `"${addr}" is not an IPv4 or IPv6 address`;
  const max = raw.length * 8;
  const prefixText = slash < 0 ? String(max) : range.slice(slash + 1);
  const prefix = /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : NaN;
  if (!(prefix >= 0 && prefix <= max)) return `"/${prefixText}" is not a prefix length for ${v4 ? 'IPv4 (0-32)' : 'IPv6 (0-128)'}`;
  const bytes = Uint8Array.from(raw);
  const masked = mask(bytes, prefix);
  if (!masked.every((b, i) => b === bytes[i])) return `"${range}" has bits set past /${prefix} (the range is ${formatRange(masked, prefix)})`;
  return { bytes, prefix };
}

function mask(bytes: Uint8Array, prefix: number): Uint8Array {
  const out = bytes.slice();
  for (let i = 0; i < out.length; i++) {
    const keep = Math.max(0, Math.min(8, prefix - i * 8));
    out[i]! &= (0xff00 >> keep) & 0xff;
  }
  return out;
}

function formatRange(b: Uint8Array, prefix: number): string {
  if (b.length === 4) return `${[...b].join('.')}/${prefix}`;
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((b[i]! << 8) | b[i + 1]!).toString(16));
  return `${groups.join(':').replace(/(^|:)0(:0)+(:|$)/, '::')}/${prefix}`;
}

export function inRange(addr: Uint8Array, r: { bytes: Uint8Array; prefix: number }): boolean {
  if (addr.length !== r.bytes.length) return false;
  const full = r.prefix >> 3;
  for (let i = 0; i < full; i++) if (addr[i] !== r.bytes[i]) return false;
  const rest = r.prefix & 7;
  if (rest === 0) return true;
  const m = (0xff00 >> rest) & 0xff;
  return (addr[full]! & m) === r.bytes[full];
}

/** The decision for one address, and the rule that made it. */
export interface AccessDecision {
  action: AccessAction;
  rule: string;
}

const DECISIONS_KEPT = 4096;

export class AccessList {
  /** Most specific first. */
  private readonly rules: AccessRule[];

  /**
   * `layers` from the bottom up (defaults, peers, the operator's rules): a rule for the same
   * range in a later layer, or later in the same layer, replaces the earlier one.
   */
  constructor(layers: AccessRule[][]) {
    const byRange = new Map<string, AccessRule>();
    for (const layer of layers) for (const r of layer) byRange.set(`${[...r.bytes].join('.')}/${r.prefix}`, r);
    this.rules = [...byRange.values()].sort((a, b) => b.prefix - a.prefix);
  }

  /**
   * Decisions by address as the socket spells it: parsing the address text was 2% of a query.
   * Bounded; emptied when full (the rules never change in a list: a reload makes a new one).
   */
  private readonly decided = new Map<string, AccessDecision>();

  decide(address: string): AccessDecision {
    let d = this.decided.get(address);
    if (!d) {
      d = this.decideNow(address);
      if (this.decided.size >= DECISIONS_KEPT) this.decided.clear();
      this.decided.set(address, d);
    }
    return d;
  }

  private decideNow(address: string): AccessDecision {
    const a = addressBytes(address);
    if (a) for (const r of this.rules) if (inRange(a, r)) return { action: r.action, rule: r.text };
    // An address we cannot read (or a family no rule covers) is refused, as Unbound does.
    return { action: 'refuse', rule: 'default' };
  }

  /** Whether a client outside loopback can be answered at all (for the start-up warning). */
  get opensBeyondLoopback(): boolean {
    return this.rules.some((r) => r.action === 'allow' && !isLoopback(r));
  }
}

function isLoopback(r: AccessRule): boolean {
  if (r.bytes.length === 4) return r.prefix >= 8 && r.bytes[0] === 127;
  return r.prefix === 128 && r.bytes.slice(0, 15).every((b) => b === 0) && r.bytes[15] === 1;
}

/** Rules from config strings already validated by the schema (a bad one throws). */
export function compileRules(lines: readonly string[]): AccessRule[] {
  return lines.map((l) => {
    const r = parseAccessRule(l);
    if (typeof r === 'string') throw new Error(r);
    return r;
  });
}

/** Allow rules for single hosts (the site's peers). */
export function hostRules(addresses: readonly string[]): AccessRule[] {
  const out: AccessRule[] = [];
  for (const a of addresses) {
    const b = addressBytes(a);
    if (b) out.push({ bytes: b, prefix: b.length * 8, action: 'allow', text: `${a} allow (site peer)` });
  }
  return out;
}
