/**
 * What one client may hold of a listener (issue 13, item 3): connections counted per listener
 * and per client address, refused past either cap, and the reasons connections were refused or
 * closed, for the TCP, DoT and DoH listeners alike.
 */

import type { Socket } from 'node:net';
import type { Counter } from '../../core/metrics.js';

export interface ConnectionMetrics {
  /** edge_connections_refused_total{transport, reason}: listener-limit, client-limit. */
  refused: Counter;
  /** edge_connections_closed_total{transport, reason}: idle, output-limit; DoT also handshake-timeout, handshake-failed. */
  closed: Counter;
}

export class ConnectionLimits {
  private readonly perClient = new Map<string, number>();
  private total = 0;

  constructor(
    private readonly transport: 'tcp' | 'dot' | 'doh',
    private readonly maxTotal: number,
    private readonly maxPerClient: number,
    private readonly m: ConnectionMetrics,
  ) {}

  get open(): number {
    return this.total;
  }

  /** A connection refused before it was counted (access control), by reason. */
  refusedBy(reason: string): void {
    this.m.refused.inc({ transport: this.transport, reason });
  }

  /**
   * Takes a new connection, or destroys it when its listener or its client address is at its cap.
   * An admitted socket is let go by itself when it closes.
   */
  admit(sock: Socket): boolean {
    const addr = sock.remoteAddress ?? '';
    const mine = this.perClient.get(addr) ?? 0;
    const reason = this.total >= this.maxTotal ? 'listener-limit' : mine >= this.maxPerClient ? 'client-limit' : null;
    if (reason) {
      this.m.refused.inc({ transport: this.transport, reason });
      sock.destroy();
      return false;
    }
    this.total++;
    this.perClient.set(addr, mine + 1);
    sock.once('close', () => {
      this.total--;
      const n = (this.perClient.get(addr) ?? 1) - 1;
      if (n <= 0) this.perClient.delete(addr);
      else this.perClient.set(addr, n);
    });
    return true;
  }

  closed(reason: 'idle' | 'output-limit' | 'handshake-timeout' | 'handshake-failed'): void {
    this.m.closed.inc({ transport: this.transport, reason });
  }
}
