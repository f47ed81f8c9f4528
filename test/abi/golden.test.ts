/**
 * ABI v1, pinned. Every value here is part of the contract with modules already built and
 * deployed: the context encoding byte for byte, the enumerations on both sides of the boundary,
 * the imports a module may declare with their Wasm signatures, the exports the host requires, and
 * the config bytes. A change to any of them fails here; if it is intended, it is ABI version 2
 * (docs/abi/v1.md, "Versioning"), not an edit to this file.
 */

import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ABI_VERSION, CtxField, LoadKind, MAX_MESSAGE_BYTES, Phase, Status, Verdict, verdictNames } from '../../host/abi/verdict.js';
import { buildImports, CallState, importCapability, type Capability } from '../../host/abi/imports.js';
import { DATA_SCOPE_FORMAT, ScopeFlag } from '../../host/abi/data-scope.js';
import { readImports, Reader, sections } from '../../host/abi/wasm-binary.js';
import { AppInstance, appMetrics, checkModule } from '../../host/apps/app-instance.js';
import { parseManifest } from '../../host/apps/manifest.js';
import { encodeAppConfig } from '../../host/core/config.js';
import { CONTEXT_MAGIC, CONTEXT_VERSION, CtxFlag, decodeContext, encodeContext, Field, MAX_CONTEXT_BYTES, Transport, type RequestContext } from '../../host/core/context.js';
import { buildQuery, textToName } from '../../host/core/dns/wire.js';
import { toJson } from '../../host/core/doh.js';
import { silentLogger } from '../../host/core/log.js';
import { MemoryMetrics } from '../../host/core/metrics.js';
import { testManifest, testModule } from '../helpers/apps.js';
import { root } from '../helpers/edge.js';

/** A context with every field set, in the order the encoder writes them. */
const GOLDEN_CONTEXT: RequestContext = {
  requestId: '0123456789abcdef',
  qname: textToName('ctx.Example.com.'),
  qtype: 28,
  qclass: 1,
  client: { address: '192.0.2.10', port: 40000 },
  transport: 'tcp',
  flags: CtxFlag.do | CtxFlag.rd,
  hops: 1,
  ingress: 'node-a',
  deadline: 1_700_000_000_000,
  tags: new Set(['blocked', 'vip']),
  route: 'alt',
  disabledApps: new Set(['static_zone']),
  ttlCap: 300,
  udpSize: 1232,
};

const GOLDEN_CONTEXT_HEX = [
  'ec01', // magic, version 1
  '01 0008 0123456789abcdef', // request id
  '02 0015 001c 0001 03637478074578616d706c6503636f6d00', // question: AAAA IN ctx.Example.com. (case kept)
  '03 0007 04 c000020a 9c40', // client: IPv4 192.0.2.10 port 40000
  '04 0001 01', // transport: tcp
  '05 0002 0005', // flags: DO | RD
  '06 0001 01', // hops
  '07 0006 6e6f64652d61', // ingress "node-a"
  '08 0008 0000018bcfe56800', // deadline 1,700,000,000,000 ms
  '09 0007 626c6f636b6564', // tag "blocked"
  '09 0003 766970', // tag "vip"
  '0a 0003 616c74', // route "alt"
  '0b 000b 7374617469635f7a6f6e65', // disabled app "static_zone"
  '0c 0004 0000012c', // TTL cap 300
  '0d 0002 04d0', // client UDP size 1232
]
  .join('')
  .replace(/ /g, '');

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** `export enum NAME { A = 0, ... }` from a guest SDK file. */
function guestEnum(file: string, name: string): Record<string, number> {
  const src = readFileSync(join(root, 'assembly', file), 'utf8');
  const body = new RegExp(`export enum ${name} \\{([\\s\\S]*?)\\n\\}`).exec(src)?.[1];
  if (!body) throw new Error(`assembly/${file} has no enum ${name}`);
  return Object.fromEntries([...body.matchAll(/^\s*([A-Z_]+)\s*=\s*(-?\d+),?\s*$/gm)].map((m) => [m[1]!, Number(m[2])]));
}

/** `export const PREFIX_NAME: T = value;` from a guest SDK file. */
function guestConsts(file: string, prefix: string): Record<string, number> {
  const src = readFileSync(join(root, 'assembly', file), 'utf8');
  return Object.fromEntries(
    [...src.matchAll(new RegExp(`^export const (${prefix}[A-Z0-9_]*): \\w+ = (0x[0-9a-f]+|\\d+);`, 'gm'))].map((m) => [m[1]!, Number(m[2])]),
  );
}

const VALTYPES: Record<number, string> = { 0x7f: 'i32', 0x7e: 'i64', 0x7d: 'f32', 0x7c: 'f64' };

/** Each function import of a module with its signature, e.g. `edge.tag_set (i32,i32)->i32`. */
function importSignatures(wasm: Uint8Array): string[] {
  const typeSec = sections(wasm).find((s) => s.id === 1)!;
  const r = new Reader(wasm.subarray(0, typeSec.end), typeSec.contentStart);
  const types: string[] = [];
  for (let n = r.u32(), i = 0; i < n; i++) {
    if (r.byte() !== 0x60) throw new Error('not a function type');
    const params = Array.from({ length: r.u32() }, () => VALTYPES[r.byte()]);
    const results = Array.from({ length: r.u32() }, () => VALTYPES[r.byte()]);
    types.push(`(${params.join(',')})->${results.length ? results.join(',') : '()'}`);
  }
  return readImports(wasm)
    .filter((i) => i.kind === 0)
    .map((i) => `${i.module}.${i.name} ${types[i.typeIndex!]}`)
    .sort();
}

/** A minimal module: imports env.memory, exports the named functions (each `() -> i32`). */
function moduleExporting(names: string[]): WebAssembly.Module {
  const leb = (n: number): number[] => {
    const out: number[] = [];
    do {
      let b = n & 0x7f;
      n >>>= 7;
      if (n) b |= 0x80;
      out.push(b);
    } while (n);
    return out;
  };
  const str = (s: string) => [...leb(s.length), ...new TextEncoder().encode(s)];
  const section = (id: number, content: number[]) => [id, ...leb(content.length), ...content];
  const bytes = [
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, [1, 0x60, 0, 1, 0x7f]),
    ...section(2, [1, ...str('env'), ...str('memory'), 0x02, 0x00, 0x01]),
    ...section(3, [...leb(names.length), ...names.map(() => 0)]),
    ...section(7, [...leb(names.length), ...names.flatMap((n, i) => [...str(n), 0x00, ...leb(i)])]),
    ...section(10, [...leb(names.length), ...names.flatMap(() => [4, 0, 0x41, 1, 0x0b])]),
  ];
  return new WebAssembly.Module(new Uint8Array(bytes));
}

describe('ABI v1 golden values', () => {
  it('is version 1 on both sides of the boundary', () => {
    expect(ABI_VERSION).toBe(1);
    expect(readFileSync(join(root, 'assembly/sdk.ts'), 'utf8')).toMatch(/^export const ABI_VERSION: i32 = 1;$/m);
  });

  it('encodes a fixed context to the same bytes, and decodes them back', () => {
    const bytes = encodeContext(GOLDEN_CONTEXT);
    expect(hex(bytes)).toBe(GOLDEN_CONTEXT_HEX);
    expect(decodeContext(bytes).ctx).toEqual(GOLDEN_CONTEXT);
    expect([CONTEXT_MAGIC, CONTEXT_VERSION, MAX_CONTEXT_BYTES]).toEqual([0xec, 1, 4096]);
  });

  it('keeps the minimal context (required fields only) byte for byte', () => {
    const minimal: RequestContext = { ...GOLDEN_CONTEXT, client: null, ingress: '', tags: new Set(), route: '', disabledApps: new Set(), ttlCap: 0, udpSize: 0, transport: 'udp', flags: 0, hops: 0 };
    expect(hex(encodeContext(minimal))).toBe('ec01' + '010008' + '0123456789abcdef' + '020015001c0001' + '03637478074578616d706c6503636f6d00' + '04000100' + '0500020000' + '06000100' + '0800080000018bcfe56800');
  });

  it('the guest decoder reads every field of the golden context as the host wrote it', () => {
    const manifest = parseManifest(testManifest('sdk_tour'), 'test');
    const app = new AppInstance({ manifest, module: testModule('sdk-tour'), minPages: 1 }, silentLogger, appMetrics(new MemoryMetrics()));
    const query = buildQuery({ name: GOLDEN_CONTEXT.qname, type: 28, class: 1 }, { id: 1 });
    const r = app.call(Phase['pre-cache']!, encodeContext(GOLDEN_CONTEXT), query);
    expect(r.kind).toBe('ok');
    const text = (toJson((r as { response: Uint8Array }).response) as { Answer: Array<{ data: string }> }).Answer[0]!.data;
    expect(JSON.parse(text)).toBe(
      'qname=ctx.example.com. qtype=28 qclass=1 client=192.0.2.10:40000 transport=1 flags=5 do=1 cd=0 hops=1 ingress=node-a deadline=1700000000000 tags=blocked,vip route=alt disabled=static_zone ttlcap=300 udp=1232',
    );
  });

  it('pins the context field types, flags and transports on both sides', () => {
    expect(Field).toEqual({ requestId: 1, question: 2, client: 3, transport: 4, flags: 5, hops: 6, ingress: 7, deadline: 8, tag: 9, route: 10, disabledApp: 11, ttlCap: 12, udpSize: 13, mac: 0x7f });
    expect(guestConsts('context.generated.ts', 'FIELD_')).toEqual({
      FIELD_REQUEST_ID: 1, FIELD_QUESTION: 2, FIELD_CLIENT: 3, FIELD_TRANSPORT: 4, FIELD_FLAGS: 5, FIELD_HOPS: 6, FIELD_INGRESS: 7,
      FIELD_DEADLINE: 8, FIELD_TAG: 9, FIELD_ROUTE: 10, FIELD_DISABLED_APP: 11, FIELD_TTL_CAP: 12, FIELD_UDP_SIZE: 13,
    });
    expect(CtxFlag).toEqual({ do: 1, cd: 2, rd: 4, local: 8 });
    expect(guestConsts('context.generated.ts', 'CTX_FLAG_')).toEqual({ CTX_FLAG_DO: 1, CTX_FLAG_CD: 2, CTX_FLAG_RD: 4, CTX_FLAG_LOCAL: 8 });
    expect(Transport).toEqual({ udp: 0, tcp: 1, doh: 2, internal: 3, dot: 4 });
    expect(guestConsts('context.generated.ts', 'TRANSPORT_')).toEqual({ TRANSPORT_UDP: 0, TRANSPORT_TCP: 1, TRANSPORT_DOH: 2, TRANSPORT_INTERNAL: 3, TRANSPORT_DOT: 4, TRANSPORT_COUNT: 5 });
  });

  it('pins verdicts, phases, load kinds, ctx_set fields and statuses on both sides', () => {
    const verdicts = { CONTINUE: 0, RESPOND: 1, FORWARD: 2, REFUSE: 3, SERVFAIL: 4, DROP: 5 };
    expect(Verdict).toEqual(verdicts);
    expect(guestEnum('tables.generated.ts', 'Verdict')).toEqual(verdicts);
    expect(verdictNames).toEqual(['continue', 'respond', 'forward', 'refuse', 'servfail', 'drop']);
    expect(Phase).toEqual({ 'pre-cache': 0, 'post-cache': 1, resolve: 2, 'post-resolve': 3 });
    expect(guestEnum('tables.generated.ts', 'Phase')).toEqual({ PRE_CACHE: 0, POST_CACHE: 1, RESOLVE: 2, POST_RESOLVE: 3 });
    expect(LoadKind).toEqual({ CONFIG: 0, DATA: 1 });
    expect(guestEnum('tables.generated.ts', 'LoadKind')).toEqual({ CONFIG: 0, DATA: 1 });
    expect(CtxField).toEqual({ ROUTE: 1, DISABLE_APP: 2, TTL_CAP: 3 });
    expect(guestEnum('tables.generated.ts', 'CtxField')).toEqual({ ROUTE: 1, DISABLE_APP: 2, TTL_CAP: 3 });
    expect(Status).toEqual({ OK: 0, INVALID: -1, LIMIT: -2 });
    expect(guestEnum('tables.generated.ts', 'Status')).toEqual({ OK: 0, INVALID: -1, LIMIT: -2 });
    expect([DATA_SCOPE_FORMAT, ScopeFlag]).toEqual([1, { ANY_NAME: 1, ANSWERS: 2, STEERS: 4 }]);
    expect(guestEnum('tables.generated.ts', 'ScopeFlag')).toEqual({ ANY_NAME: 1, ANSWERS: 2, STEERS: 4 });
    expect(guestEnum('sdk.ts', 'LogLevel')).toEqual({ DEBUG: 0, INFO: 1, WARN: 2, ERROR: 3 });
    expect(MAX_MESSAGE_BYTES).toBe(65535);
  });

  it('pins the imports a module may declare, with their Wasm signatures and capabilities', () => {
    const wasm = new Uint8Array(readFileSync(join(root, 'build/test-apps/all-imports.wasm')));
    expect(importSignatures(wasm)).toEqual([
      'edge.ctx_set (i32,i32,i32)->i32',
      'edge.data_scope (i32,i32)->i32',
      'edge.load_error (i32,i32)->()',
      'edge.log (i32,i32,i32)->()',
      'edge.metric_add (i32,i32,i32)->()',
      'edge.now_ms ()->f64',
      'edge.respond (i32,i32)->()',
      'edge.set_target (i32,i32)->()',
      'edge.tag_clear (i32,i32)->i32',
      'edge.tag_set (i32,i32)->i32',
      'env.abort (i32,i32,i32,i32)->()',
    ]);
    expect(readImports(wasm).find((i) => i.kind === 2)).toMatchObject({ module: 'env', name: 'memory' });
    expect(importCapability).toEqual({ respond: null, set_target: null, tag_set: null, tag_clear: null, ctx_set: null, load_error: null, data_scope: null, log: 'log', now_ms: 'clock', metric_add: 'metrics' });

    // The host provides exactly these, with the same arity; capabilities add the optional ones.
    const host = { appName: 'golden', memory: () => new WebAssembly.Memory({ initial: 1 }), state: new CallState(), log() {}, now: () => 0, metric() {} };
    const edgeOf = (caps: Capability[]) => buildImports(host, new Set(caps)).edge as Record<string, (...a: number[]) => unknown>;
    const all = edgeOf(['log', 'clock', 'metrics']);
    expect(Object.fromEntries(Object.entries(all).map(([k, f]) => [k, f.length]))).toEqual({
      respond: 2, set_target: 2, tag_set: 2, tag_clear: 2, ctx_set: 3, load_error: 2, data_scope: 2, log: 3, now_ms: 0, metric_add: 3,
    });
    expect(Object.keys(edgeOf([])).sort()).toEqual(['ctx_set', 'data_scope', 'load_error', 'respond', 'set_target', 'tag_clear', 'tag_set']);
    // The module that declares them all loads when the manifest grants the capabilities, and not otherwise.
    const granted = parseManifest(testManifest('all_imports', { capabilities: ['log', 'clock', 'metrics'] }), 'test');
    expect(() => checkModule({ manifest: granted, module: new WebAssembly.Module(wasm), minPages: 1 })).not.toThrow();
    const bare = parseManifest(testManifest('all_imports'), 'test');
    expect(() => checkModule({ manifest: bare, module: new WebAssembly.Module(wasm), minPages: 1 })).toThrow(/needs capability/);
  });

  it('requires exactly abi_version, input and on_query; on_load, gc and phases_wanted are optional', () => {
    const manifest = parseManifest(testManifest('golden'), 'test');
    const check = (names: string[]) => () => checkModule({ manifest, module: moduleExporting(names), minPages: 1 });
    expect(check(['abi_version', 'input', 'on_query'])).not.toThrow();
    expect(check(['abi_version', 'input', 'on_query', 'on_load', 'gc', 'phases_wanted'])).not.toThrow();
    expect(check(['input', 'on_query'])).toThrow(/no abi_version export/);
    expect(check(['abi_version', 'on_query'])).toThrow(/missing required export function "input"/);
    expect(check(['abi_version', 'input'])).toThrow(/missing required export function "on_query"/);
    // What the SDK makes every app export.
    for (const app of ['forward', 'blocklist']) {
      const names = WebAssembly.Module.exports(new WebAssembly.Module(readFileSync(join(root, 'build/apps', `${app}.wasm`)))).map((e) => e.name);
      expect(names.sort(), app).toEqual(['abi_version', 'gc', 'input', 'memory', 'on_load', 'on_query']);
    }
    for (const app of ['override', 'static_zone']) {
      const names = WebAssembly.Module.exports(new WebAssembly.Module(readFileSync(join(root, 'build/apps', `${app}.wasm`)))).map((e) => e.name);
      expect(names.sort(), app).toEqual(['abi_version', 'gc', 'input', 'memory', 'on_load', 'on_query', 'phases_wanted']);
    }
  });

  it('encodes an app config as the same key=value lines', () => {
    const bytes = encodeAppConfig(
      { routes: { '.': 'default', 'com.': 'alt' }, mode: 'address', ttl: 30, on: true, list: ['a', 'b'] },
      { node_id: 'n1', upstream_groups: 'default,alt', apps: 'blocklist,forward' },
    );
    expect(new TextDecoder().decode(bytes)).toBe(
      'host.node_id=n1\nhost.upstream_groups=default,alt\nhost.apps=blocklist,forward\nroutes..=default\nroutes.com.=alt\nmode=address\nttl=30\non=true\nlist=a,b\n',
    );
  });
});
