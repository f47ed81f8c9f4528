/**
 * The app test harness: runs one app on crafted requests without a server, through the same
 * AppInstance and chain code the resolver uses, and reports what the app decided: its verdict,
 * its response (decoded), and the context after its effects (tags, route, disabled apps, TTL
 * cap). docs/writing-apps.md shows it in an app's own test.
 */

import { LoadKind, phaseNames, Phase, Verdict, verdictNames, type PhaseName } from '../abi/verdict.js';
import { encodeAppConfig } from '../core/config.js';
import { CtxFlag, encodeContext, newContext, type RequestContext, type TransportName } from '../core/context.js';
import { toJson } from '../core/doh.js';
import { typeFromName } from '../core/dns/rr-types.js';
import { buildQuery, textToName } from '../core/dns/wire.js';
import { silentLogger, type Logger } from '../core/log.js';
import { MemoryMetrics } from '../core/metrics.js';
import { meter } from '../abi/meter.js';
import { AppInstance, appMetrics, type LoadResult } from './app-instance.js';
import { applyEffects } from './app-chain.js';
import { checkAppConfig, parseManifest, type AppManifest } from './manifest.js';

export interface HarnessQuery {
  /** Defaults to the first phase in the app's manifest. */
  phase?: PhaseName;
  qtype?: string;
  /** The query class (default 1, IN). */
  qclass?: number;
  tags?: string[];
  /** DNSSEC OK: the client asked for signatures. */
  do?: boolean;
  /** Recursion desired (default true); false: an iterative query, as a resolver sends. */
  rd?: boolean;
  client?: string;
  transport?: TransportName;
  route?: string;
  disabledApps?: string[];
  /** For post phases: the response the app sees (defaults to the query). */
  message?: Uint8Array;
  /** Peer hops the request has taken. */
  hops?: number;
  /** The LOCAL flag: the owner of the cache slot is down, resolve here. */
  local?: boolean;
}

export interface HarnessRecord {
  name: string;
  type: number;
  TTL: number;
  data: string;
}

export interface HarnessResult {
  verdict: 'continue' | 'respond' | 'forward' | 'refuse' | 'servfail' | 'drop' | 'trap';
  /** The raw response for `respond`. */
  message: Uint8Array | null;
  /** The response decoded: rcode and sections (RDATA of uncommon types in RFC 3597 form). */
  response: { rcode: number; flags: { aa: boolean; tc: boolean }; answer: HarnessRecord[]; authority: HarnessRecord[] } | null;
  target: string | null;
  /** The context after the app's effects. */
  ctx: RequestContext;
  tags: string[];
  trap: string | null;
}

export class AppHarness {
  readonly metrics = new MemoryMetrics();
  readonly app: AppInstance;
  private clock: number | null = null;

  constructor(
    readonly manifest: AppManifest,
    module: WebAssembly.Module,
    opts: { config?: Record<string, unknown>; host?: Record<string, string>; logger?: Logger; minPages?: number } = {},
  ) {
    this.app = new AppInstance({ manifest, module, minPages: opts.minPages ?? 1 }, opts.logger ?? silentLogger, appMetrics(this.metrics), () =>
      this.clock ?? Date.now(),
    );
    if (manifest.config_schema || opts.config) {
      const config = opts.config ?? {};
      const problems = checkAppConfig(manifest, config);
      if (problems.length) throw new Error(problems.join('\n'));
      const r = this.app.load(LoadKind.CONFIG, encodeAppConfig(config, { node_id: 'test', upstream_groups: 'default', apps: manifest.name, ...opts.host }));
      if (!r.ok) throw new Error(r.error);
    }
  }

  /** From a built .wasm (bytes) and its app.json (parsed JSON); metered as on Node. */
  static fromBytes(wasm: Uint8Array, manifestJson: unknown, opts: ConstructorParameters<typeof AppHarness>[2] = {}): AppHarness {
    const manifest = parseManifest(manifestJson, 'app.json');
    return new AppHarness(manifest, new WebAssembly.Module(meter(wasm)), opts);
  }

  /** Pins the clock the app sees (now_ms) to a fixed time; null for the real clock. */
  setClock(ms: number | null): void {
    this.clock = ms;
  }

  load(data: Uint8Array): LoadResult {
    return this.app.load(LoadKind.DATA, data);
  }

  /** A DATA load from text (a block list, a rule set), as UTF-8. */
  loadText(text: string): LoadResult {
    return this.load(new TextEncoder().encode(text));
  }

  query(qname: string, q: HarnessQuery = {}): HarnessResult {
    const type = typeFromName(q.qtype ?? 'A');
    if (type === undefined) throw new Error(`unknown type ${q.qtype}`);
    const name = textToName(qname.endsWith('.') ? qname : `${qname}.`);
    const qclass = q.qclass ?? 1;
    const query = buildQuery({ name, type, class: qclass }, { id: 4711, udpSize: 1232, do: q.do, rd: q.rd !== false });
    const ctx = newContext({
      qname: name,
      qtype: type,
      qclass,
      client: { address: q.client ?? '192.0.2.10', port: 40000 },
      transport: q.transport ?? 'udp',
      flags: (q.do ? 1 : 0) | (q.rd === false ? 0 : 4),
      ingress: 'test',
      deadline: Date.now() + 4000,
      udpSize: 1232,
    });
    for (const t of q.tags ?? []) ctx.tags.add(t);
    for (const a of q.disabledApps ?? []) ctx.disabledApps.add(a);
    if (q.route) ctx.route = q.route;
    if (q.hops) ctx.hops = q.hops;
    if (q.local) ctx.flags |= CtxFlag.local;
    const phase = Phase[q.phase ?? this.manifest.phases[0]!];
    if (!this.manifest.phases.includes(phaseNames[phase]!)) {
      throw new Error(`app ${this.manifest.name} does not run in phase ${phaseNames[phase]}`);
    }
    const r = this.app.call(phase, encodeContext(ctx), q.message ?? query);
    if (r.kind !== 'ok') {
      return { verdict: 'trap', message: null, response: null, target: null, ctx, tags: [...ctx.tags], trap: r.kind === 'open' ? 'circuit breaker open' : r.kind === 'quarantined' ? 'quarantined' : `${r.reason}: ${r.message}` };
    }
    applyEffects(ctx, r.effects);
    const message = r.verdict === Verdict.RESPOND ? r.response : null;
    let response: HarnessResult['response'] = null;
    if (message) {
      const j = toJson(message) as { Status: number; TC: boolean; Answer?: HarnessRecord[]; Authority?: HarnessRecord[] };
      response = { rcode: j.Status, flags: { aa: !!(message[2]! & 0x04), tc: j.TC }, answer: j.Answer ?? [], authority: j.Authority ?? [] };
    }
    const verdict = verdictNames[r.verdict]!;
    return {
      verdict,
      message,
      response,
      target: r.target,
      ctx,
      tags: [...ctx.tags],
      trap: null,
    };
  }
}
