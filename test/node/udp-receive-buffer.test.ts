/**
 * Queries that reach a UDP listener while the node is busy wait in the socket's receive buffer
 * (`server.udp_receive_buffer`). The system's default holds some 250 small queries, under two
 * seconds of a busy listener's traffic, and the soak (bench/soak.mjs) lost UDP queries to it
 * whenever a zone refresh or a burst of pipelined TCP and DoH queries held the event loop that
 * long. Here the node is paused outright (SIGSTOP) while a burst arrives, and must answer every
 * query of it once it runs again.
 */

import { createSocket } from 'node:dgram';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startCli, type CliNode } from '../helpers/edge.js';
import { waitFor } from '../helpers/net.js';
import { needTools } from '../helpers/tools.js';
import { buildQuery, textToName } from '../../host/core/dns/wire.js';

const ok = needTools('dig');
const dir = mkdtempSync(join(tmpdir(), 'udp-rcvbuf-'));
const rules = join(dir, 'burst.rules');
writeFileSync(rules, 'phase = pre-cache qname burst.test respond A 192.0.2.1\n');
const nodes: CliNode[] = [];
afterAll(async () => {
  for (const n of nodes) await n.stop('SIGKILL');
});

// What the kernel lets a socket ask for (Linux caps SO_RCVBUF there and grants twice the value).
const rmemMax = Number(readFileSync('/proc/sys/net/core/rmem_max', 'utf8'));

describe.skipIf(!ok)('UDP receive buffer', () => {
  it('keeps a burst that arrives while the node is paused, and answers all of it', async () => {
    const edge = await startCli(['--upstream', '127.0.0.1:9', '--rules', rules], 'burst.test');
    nodes.push(edge);
    // A small query takes about 800 bytes of buffer; stay well inside what the node can be granted.
    const burst = Math.min(2000, Math.floor((2 * Math.min(rmemMax, 4 * 1024 * 1024)) / 1600));
    expect(burst, 'net.core.rmem_max leaves no room for a buffer larger than the default').toBeGreaterThan(600);

    const client = createSocket({ type: 'udp4', recvBufferSize: 8 * 1024 * 1024 });
    await new Promise<void>((r) => client.bind(0, '127.0.0.1', () => r()));
    const answered = new Set<number>();
    client.on('message', (m) => answered.add(m.readUInt16BE(0)));
    try {
      edge.proc.kill('SIGSTOP');
      await Promise.all(
        Array.from({ length: burst }, (_, id) => {
          const q = buildQuery({ name: textToName('burst.test.'), type: 1, class: 1 }, { id });
          return new Promise<void>((r) => client.send(q, edge.dns.port, '127.0.0.1', () => r()));
        }),
      );
      edge.proc.kill('SIGCONT');
      await waitFor(async () => answered.size === burst, 20_000).catch(() => {});
      expect(answered.size).toBe(burst);
    } finally {
      edge.proc.kill('SIGCONT');
      client.close();
    }
  });
});
