/**
 * Where dnstap frames go on Node: a file (Frame Streams unidirectional: START, frames, STOP) or
 * a collector's unix socket (bidirectional: READY, ACCEPT, START, frames, STOP, FINISH), as
 * Unbound, Knot Resolver, PowerDNS and BIND write them. Serving never waits on it: frames wait
 * in a queue of `queueFrames` and are dropped (edge_dnstap_dropped_total) when it is full,
 * which is what happens while the collector is gone or reads too slowly. A collector that goes
 * away is connected to again with backoff; the frames queued meanwhile go out when it is back.
 */

import { createWriteStream, type WriteStream } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import type { Logger } from '../../core/log.js';
import type { Counter, Gauge, MetricsSink } from '../../core/metrics.js';
import { Control, controlFrame, DNSTAP_CONTENT_TYPE, readControlFrame } from '../../core/dnstap/frame-streams.js';

export type DnstapDestination = { kind: 'file'; path: string } | { kind: 'socket'; path: string };

export interface DnstapOutputOptions {
  /** Frames waiting to be written, at most; past it new ones are dropped. */
  queueFrames: number;
  /** Reconnect backoff (socket): the first wait, doubled per failed attempt up to the maximum. */
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
  /** How long a collector has to answer READY with ACCEPT, and STOP with FINISH. */
  handshakeTimeoutMs?: number;
}

/** Frames written in one go: bounds what sits in the socket's buffer past its high-water mark. */
const BATCH = 256;

type State = 'connecting' | 'handshake' | 'ready' | 'down' | 'closing' | 'closed';

export class DnstapOutput {
  private queue: Uint8Array[] = [];
  private state: State = 'down';
  private out: Socket | WriteStream | null = null;
  private waitingDrain = false;
  private scheduled = false;
  private backoffMs: number;
  private retry: ReturnType<typeof setTimeout> | undefined;
  private handshake: ReturnType<typeof setTimeout> | undefined;
  private received = new Uint8Array(0);
  /** Whether the last attempt failed already (one warning per outage, not per attempt). */
  private failing = false;
  private finished: (() => void) | null = null;
  private readonly frames: Counter;
  private readonly dropped: Counter;
  private readonly connected: Gauge;

  constructor(
    readonly dest: DnstapDestination,
    private readonly opts: DnstapOutputOptions,
    metrics: MetricsSink,
    private readonly logger: Logger,
  ) {
    this.backoffMs = opts.reconnectMinMs ?? 100;
    this.frames = metrics.counter('edge_dnstap_frames_total', 'dnstap frames written to the file or the collector socket');
    this.dropped = metrics.counter('edge_dnstap_dropped_total', 'dnstap frames dropped, by reason (queue-full: the collector is gone or slow; output-error: the file cannot be written; shutdown: still queued at stop)', ['reason']);
    this.connected = metrics.gauge('edge_dnstap_connected', '1 while the dnstap file is open or the collector has accepted the stream');
  }

  start(): void {
    if (this.dest.kind === 'file') this.openFile(this.dest.path);
    else this.connect(this.dest.path);
  }

  /** Queues one payload; drops it when the queue is full. Never throws, never waits. */
  write(payload: Uint8Array): void {
    if (this.state === 'closing' || this.state === 'closed') return;
    if (this.queue.length >= this.opts.queueFrames) {
      this.dropped.inc({ reason: this.dest.kind === 'file' && this.state === 'down' ? 'output-error' : 'queue-full' });
      return;
    }
    this.queue.push(payload);
    this.schedule();
  }

  get queueFrames(): number {
    return this.opts.queueFrames;
  }

  /** Frames waiting to be written. */
  get pending(): number {
    return this.queue.length;
  }

  private schedule(): void {
    if (this.scheduled || this.state !== 'ready' || this.waitingDrain) return;
    this.scheduled = true;
    // Frames of the same turn go out in one write.
    setImmediate(() => {
      this.scheduled = false;
      this.pump();
    });
  }

  /** Writes queued frames while the output takes them (`force`: all of them, at close). */
  private pump(force = false): void {
    const out = this.out;
    while (out && this.queue.length && (this.state === 'ready' || this.state === 'closing') && (force || !this.waitingDrain)) {
      const batch = this.queue.splice(0, BATCH);
      const buf = Buffer.allocUnsafe(batch.reduce((n, f) => n + 4 + f.length, 0));
      let p = 0;
      for (const f of batch) {
        buf.writeUInt32BE(f.length, p);
        buf.set(f, p + 4);
        p += 4 + f.length;
      }
      this.frames.inc(undefined, batch.length);
      if (!out.write(buf) && !this.waitingDrain) {
        this.waitingDrain = true;
        out.once('drain', () => {
          this.waitingDrain = false;
          this.schedule();
        });
      }
    }
  }

  private openFile(path: string): void {
    // Truncated, as fstrm's file writer does: a Frame Streams file is one stream from START.
    const s = createWriteStream(path, { flags: 'w', mode: 0o640 });
    this.out = s;
    this.state = 'connecting';
    s.on('open', () => {
      s.write(controlFrame(Control.START, [DNSTAP_CONTENT_TYPE]));
      this.ready();
    });
    s.on('error', (e) => {
      this.logger.log('error', 'dnstap file cannot be written; frames are dropped', { file: path, error: e.message });
      this.dropped.inc({ reason: 'output-error' }, this.queue.length);
      this.queue = [];
      this.state = 'down';
      this.connected.set({}, 0);
      this.finished?.();
    });
  }

  private ready(): void {
    this.state = 'ready';
    this.connected.set({}, 1);
    this.backoffMs = this.opts.reconnectMinMs ?? 100;
    this.schedule();
  }

  private connect(path: string): void {
    if (this.state === 'closing' || this.state === 'closed') return;
    this.state = 'connecting';
    this.received = new Uint8Array(0);
    this.waitingDrain = false;
    const sock = createConnection({ path });
    this.out = sock;
    sock.on('connect', () => {
      this.state = 'handshake';
      sock.write(controlFrame(Control.READY, [DNSTAP_CONTENT_TYPE]));
      this.handshake = setTimeout(() => sock.destroy(new Error('the collector did not answer READY with ACCEPT')), this.opts.handshakeTimeoutMs ?? 5000);
    });
    sock.on('data', (chunk) => this.onControl(sock, chunk));
    sock.on('error', (e) => {
      if (this.failing) return;
      this.failing = true;
      this.logger.log('warn', 'dnstap collector unavailable; frames wait in the queue, then are dropped, until it is back', { socket: path, error: e.message });
    });
    sock.on('close', () => {
      clearTimeout(this.handshake);
      if (this.out === sock) this.out = null;
      this.connected.set({}, 0);
      this.finished?.();
      if (this.state === 'closing' || this.state === 'closed') return;
      if (this.state === 'ready' && !this.failing) {
        this.failing = true;
        this.logger.log('warn', 'dnstap collector went away; connecting again', { socket: path });
      }
      this.state = 'down';
      const wait = this.backoffMs;
      this.backoffMs = Math.min(this.backoffMs * 2, this.opts.reconnectMaxMs ?? 5000);
      this.retry = setTimeout(() => this.connect(path), wait);
      this.retry.unref?.();
    });
  }

  /** What the collector sends: ACCEPT after our READY, FINISH after our STOP. */
  private onControl(sock: Socket, chunk: Buffer): void {
    const all = new Uint8Array(this.received.length + chunk.length);
    all.set(this.received);
    all.set(chunk, this.received.length);
    this.received = all;
    for (;;) {
      let got: ReturnType<typeof readControlFrame>;
      try {
        got = readControlFrame(this.received);
      } catch (e) {
        sock.destroy(new Error(`the collector sent something other than a control frame: ${(e as Error).message}`));
        return;
      }
      if (!got) return;
      this.received = this.received.subarray(got.length);
      const { type, contentTypes } = got.frame;
      if (type === Control.ACCEPT && this.state === 'handshake') {
        if (contentTypes.length && !contentTypes.includes(DNSTAP_CONTENT_TYPE)) {
          sock.destroy(new Error(`the collector takes ${contentTypes.join(', ')}, not ${DNSTAP_CONTENT_TYPE}`));
          return;
        }
        clearTimeout(this.handshake);
        sock.write(controlFrame(Control.START, [DNSTAP_CONTENT_TYPE]));
        if (this.failing) this.logger.log('info', 'dnstap collector back', { socket: (this.dest as { path: string }).path });
        this.failing = false;
        this.ready();
      } else if (type === Control.FINISH) {
        this.finished?.();
      }
    }
  }

  /** Writes what is queued and ends the stream (STOP; on a socket, FINISH awaited briefly). */
  async close(): Promise<void> {
    if (this.state === 'closed') return;
    clearTimeout(this.retry);
    const out = this.out;
    const live = this.state === 'ready';
    this.state = 'closing';
    if (!out || !live) {
      this.dropped.inc({ reason: 'shutdown' }, this.queue.length);
      this.queue = [];
      out?.destroy();
      this.state = 'closed';
      this.connected.set({}, 0);
      return;
    }
    // Everything queued goes into the stream's buffer now; ending waits until it is written.
    this.pump(true);
    const done = new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, this.opts.handshakeTimeoutMs ?? 5000);
      this.finished = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    out.write(controlFrame(Control.STOP));
    if (this.dest.kind === 'file') {
      (out as WriteStream).end(() => this.finished?.());
      await done;
    } else {
      await done;
      (out as Socket).end();
    }
    this.finished = null;
    this.state = 'closed';
    this.connected.set({}, 0);
  }
}
