/**
 * The host half of ABI v1: the import object an app instance gets, and the checks a module must
 * pass before it is instantiated. Imports copy what they need out of guest memory before they
 * return; no guest pointer outlives a call.
 */

import { CtxField, MAX_MESSAGE_BYTES, Status } from './verdict.js';
import { DataScopeError, decodeDataScope, MAX_DATA_SCOPE_BYTES, type DataScope } from './data-scope.js';
import { isValidTag } from '../core/context.js';

/** Raised inside an import or by the host when an app breaks the ABI; handled like a trap. */
export class AppTrap extends Error {
  override readonly name = 'AppTrap';
  constructor(
    message: string,
    readonly reason: TrapReason,
  ) {
    super(message);
  }
}

/** Why a call was stopped: the `reason` label of edge_app_traps_total (docs/abi/v1.md, "Trap reasons"). */
export const trapReasons = ['trap', 'abort', 'bad-pointer', 'bad-verdict', 'out-of-memory', 'fuel', 'stack'] as const;
export type TrapReason = (typeof trapReasons)[number];

export type Capability = 'log' | 'clock' | 'metrics';

/** Which capability each optional import needs; imports not listed here are always granted. */
export const importCapability: Record<string, Capability | null> = {
  respond: null,
  set_target: null,
  tag_set: null,
  tag_clear: null,
  ctx_set: null,
  load_error: null,
  data_scope: null,
  log: 'log',
  now_ms: 'clock',
  metric_add: 'metrics',
};

/** What one call into an app produced, gathered by the imports while it ran. */
export class CallState {
  response: Uint8Array | null = null;
  target: string | null = null;
  loadError: string | null = null;
  /** The scope the app reported for the data of this `on_load` call (`data_scope`). */
  dataScope: DataScope | null = null;
  /** Ordered effects on the context; applied by the host only when the call succeeds. */
  effects: Effect[] = [];
  reset(): void {
    this.response = null;
    this.target = null;
    this.loadError = null;
    this.dataScope = null;
    this.effects = [];
  }
}

/** Set while recordDataScope runs: the call state the last `data_scope` call wrote to. */
let recording: { state: CallState | null } | null = null;

/**
 * Runs `load` (a synchronous `AppInstance.load` or `validate` of DATA) and returns, with its
 * result, the scope the app reported for that data, or null when it reported none. Wasm calls
 * are synchronous, so every `data_scope` call made while `load` runs belongs to it; a load that
 * first re-instantiates the app replays the previous data, and the call state is reset before
 * each `on_load`, so what is left in it is the report of the last one, the data asked for.
 */
export function recordDataScope<T>(load: () => T): { result: T; scope: DataScope | null } {
  const outer = recording;
  const mine: { state: CallState | null } = { state: null };
  recording = mine;
  try {
    const result = load();
    return { result, scope: mine.state?.dataScope ?? null };
  } finally {
    recording = outer;
  }
}

export type Effect =
  | { kind: 'tag-set'; tag: string }
  | { kind: 'tag-clear'; tag: string }
  | { kind: 'route'; group: string }
  | { kind: 'disable-app'; app: string }
  | { kind: 'ttl-cap'; seconds: number };

export interface ImportHost {
  readonly appName: string;
  memory(): WebAssembly.Memory;
  state: CallState;
  log(level: number, msg: string): void;
  now(): number;
  metric(name: string, delta: number): void;
}

const utf8 = new TextDecoder('utf-8', { fatal: false });
const MAX_STRING = 1024;
const MAX_LOAD_ERROR = 64 * 1024;

export function readGuest(mem: WebAssembly.Memory, ptr: number, len: number, max: number): Uint8Array {
  if (!Number.isInteger(ptr) || !Number.isInteger(len) || ptr < 0 || len < 0) {
    throw new AppTrap(`bad pointer ${ptr}+${len}`, 'bad-pointer');
  }
  if (len > max) throw new AppTrap(`buffer of ${len} bytes exceeds the limit of ${max}`, 'bad-pointer');
  if (ptr + len > mem.buffer.byteLength) {
    throw new AppTrap(`pointer ${ptr}+${len} is outside the app's ${mem.buffer.byteLength}-byte memory`, 'bad-pointer');
  }
  return new Uint8Array(mem.buffer, ptr, len).slice();
}

function readString(host: ImportHost, ptr: number, len: number): string {
  return utf8.decode(readGuest(host.memory(), ptr, len, MAX_STRING));
}

/**
 * AssemblyScript's `abort(message, file, line, column)`: strings are UTF-16 with their byte
 * length in the 4 bytes before the pointer. Decoded defensively; a bad pointer still traps.
 */
function decodeAsString(mem: WebAssembly.Memory, ptr: number): string {
  if (ptr < 4 || ptr > mem.buffer.byteLength) return '';
  const len = new DataView(mem.buffer).getUint32(ptr - 4, true);
  if (len > 2048 || ptr + len > mem.buffer.byteLength || len % 2 !== 0) return '';
  return String.fromCharCode(...new Uint16Array(mem.buffer.slice(ptr, ptr + len)));
}

export function buildImports(host: ImportHost, granted: ReadonlySet<Capability>): WebAssembly.Imports {
  const edge: Record<string, (...args: number[]) => number | void> = {
    respond(ptr, len) {
      host.state.response = readGuest(host.memory(), ptr!, len!, MAX_MESSAGE_BYTES);
    },
    set_target(ptr, len) {
      host.state.target = readString(host, ptr!, len!);
    },
    tag_set(ptr, len) {
      const tag = readString(host, ptr!, len!);
      if (!isValidTag(tag)) return Status.INVALID;
      host.state.effects.push({ kind: 'tag-set', tag });
      return Status.OK;
    },
    tag_clear(ptr, len) {
      const tag = readString(host, ptr!, len!);
      if (!isValidTag(tag)) return Status.INVALID;
      host.state.effects.push({ kind: 'tag-clear', tag });
      return Status.OK;
    },
    ctx_set(field, ptr, len) {
      const bytes = readGuest(host.memory(), ptr!, len!, MAX_STRING);
      switch (field) {
        case CtxField.ROUTE: {
          const group = utf8.decode(bytes);
          if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(group)) return Status.INVALID;
          host.state.effects.push({ kind: 'route', group });
          return Status.OK;
        }
        case CtxField.DISABLE_APP: {
          const app = utf8.decode(bytes);
          if (!/^[a-z][a-z0-9_]{0,31}$/.test(app)) return Status.INVALID;
          host.state.effects.push({ kind: 'disable-app', app });
          return Status.OK;
        }
        case CtxField.TTL_CAP: {
          if (bytes.length !== 4) return Status.INVALID;
          const seconds = new DataView(bytes.buffer).getUint32(0);
          host.state.effects.push({ kind: 'ttl-cap', seconds });
          return Status.OK;
        }
        default:
          return Status.INVALID;
      }
    },
    load_error(ptr, len) {
      // Load errors list every problem with its line, so they get more room than other strings.
      host.state.loadError = utf8.decode(readGuest(host.memory(), ptr!, len!, MAX_LOAD_ERROR));
    },
    data_scope(ptr, len) {
      const bytes = readGuest(host.memory(), ptr!, len!, MAX_DATA_SCOPE_BYTES);
      try {
        host.state.dataScope = decodeDataScope(bytes);
      } catch (e) {
        if (!(e instanceof DataScopeError)) throw e;
        host.state.dataScope = null;
        host.log(2, `data_scope: ${e.message}; the report is ignored`);
        return Status.INVALID;
      }
      if (recording) recording.state = host.state;
      return Status.OK;
    },
  };
  if (granted.has('log')) edge.log = (level, ptr, len) => host.log(level!, readString(host, ptr!, len!));
  if (granted.has('clock')) edge.now_ms = () => host.now();
  if (granted.has('metrics')) edge.metric_add = (ptr, len, delta) => host.metric(readString(host, ptr!, len!), delta!);
  return {
    edge,
    env: {
      memory: host.memory(),
      abort(msg: number, file: number, line: number, col: number) {
        const mem = host.memory();
        const text = decodeAsString(mem, msg) || 'abort';
        const where = decodeAsString(mem, file);
        const reason: TrapReason = /allocation too large|out of memory/i.test(text) ? 'out-of-memory' : 'abort';
        throw new AppTrap(where ? `${text} (${where}:${line}:${col})` : text, reason);
      },
    },
  };
}
