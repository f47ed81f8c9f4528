/**
 * A slow upstream for tests: a UDP relay on loopback in front of a real server (NSD) that holds
 * each answer for `delayMs` before passing it on. Serve-stale's client response timer and
 * graceful shutdown need a query that stays in progress for a known time. With `down` set it
 * drops every query, as an upstream that went away does.
 */

import { createSocket, type Socket } from 'node:dgram';

export interface SlowUpstream {
  /** `HOST:PORT`, as the resolver's --upstream takes it. */
  address: string;
  /** How long each answer is held; change it at any time (applies to answers arriving after). */
  delayMs: number;
  /** Drop queries instead of relaying them; change it at any time. */
  down: boolean;
  /** Queries relayed (or dropped) so far. */
  readonly queries: number;
  close(): Promise<void>;
}

export async function startSlowUpstream(target: { host: string; port: number }, delayMs = 0): Promise<SlowUpstream> {
  const front = createSocket('udp4');
  const backs = new Set<Socket>();
  const timers = new Set<ReturnType<typeof setTimeout>>();
  let queries = 0;
  const relay: SlowUpstream = {
    address: '',
    delayMs,
    down: false,
    get queries() {
      return queries;
    },
    close: async () => {
      for (const t of timers) clearTimeout(t);
      for (const b of backs) b.close();
      await new Promise<void>((r) => front.close(() => r()));
    },
  };
  front.on('message', (msg, client) => {
    queries++;
    if (relay.down) return;
    const back = createSocket('udp4');
    backs.add(back);
    const done = () => {
      if (backs.delete(back)) back.close();
    };
    // An upstream that never answers must not leave the socket open for ever.
    const giveUp = setTimeout(done, 30_000);
    back.on('message', (reply) => {
      clearTimeout(giveUp);
      done();
      const t = setTimeout(() => {
        timers.delete(t);
        front.send(reply, client.port, client.address);
      }, relay.delayMs);
      timers.add(t);
    });
    back.send(msg, target.port, target.host);
  });
  await new Promise<void>((r) => front.bind(0, '127.0.0.1', () => r()));
  relay.address = `127.0.0.1:${front.address().port}`;
  return relay;
}
