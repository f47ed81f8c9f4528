/**
 * The conformance cases (test/cases/) on Node: two nodes on loopback pooling their caches, each
 * with the local root, forwarding to NSD through a relay that can go down; queries over UDP to
 * node a, the ingress. test/workers/cases.test.ts runs the same cases on the Worker.
 */

import { afterAll, beforeAll, describe } from 'vitest';
import { CASES } from '../cases/cases.js';
import { K1, LOCAL_ROOT, TRUST_ANCHOR, startUpstreamNsd } from '../cases/fixtures.js';
import { runCases, type Site } from '../cases/run-cases.js';
import { ownerOf, testNode, type TestNode } from '../helpers/edge.js';
import { freePort, udpExchange, waitFor } from '../helpers/net.js';
import type { Nsd } from '../helpers/nsd.js';
import { startSlowUpstream, type SlowUpstream } from '../helpers/slow-upstream.js';
import { needTools } from '../helpers/tools.js';
import { EdgeNode } from '../../host/adapters/node/edge-node.js';
import { parseConfig } from '../../host/core/config.js';
import { consoleLogger, silentLogger } from '../../host/core/log.js';

const MEMBERS = ['a', 'b'];

function config(id: string, ports: Record<string, number>, upstream: string): string {
  return `node_id = "${id}"
[server]
listen = ["127.0.0.1:${ports[id]}"]
[upstreams]
default = ["${upstream}"]
[upstream]
try_timeout_ms = 1000
[site]
peers = { ${MEMBERS.map((m) => `${m} = "127.0.0.1:${ports[m]}"`).join(', ')} }
keys = { k1 = "${K1}" }
peer_timeout_ms = 3000
[zone]
source = "${LOCAL_ROOT}"
trust_anchor = "${TRUST_ANCHOR}"
[dnssec]
validate = false
[apps.forward.config.routes]
"." = "default"
`;
}

describe.skipIf(!needTools('nsd'))('the conformance cases on Node (two nodes, UDP)', () => {
  let nsd: Nsd;
  let relay: SlowUpstream;
  const nodes: TestNode[] = [];
  let site: Site;

  beforeAll(async () => {
    nsd = await startUpstreamNsd();
    relay = await startSlowUpstream(nsd);
    const ports = Object.fromEntries(await Promise.all(MEMBERS.map(async (m) => [m, await freePort()] as const)));
    for (const id of MEMBERS) {
      const text = config(id, ports, relay.address);
      const edge = await EdgeNode.start(parseConfig(text, 'test'), { logger: process.env.EDGE_TEST_LOG ? consoleLogger('debug') : silentLogger, configText: text });
      nodes.push(testNode(edge));
      // The local root loads after the node listens; the cases count on it from the first query.
      await waitFor(async () => edge.node.zone?.current != null, 30_000);
    }
    const ingress = nodes[0]!;
    site = {
      ask: (q) => udpExchange(ingress.dns.port, q, 10_000),
      async setRules(text) {
        const r = text === null ? await ingress.node.rules.clear() : await ingress.node.rules.apply(new TextEncoder().encode(text), 'case');
        if (!r.ok) throw new Error(r.errors.join('; '));
      },
      setUpstream: async (up) => void (relay.down = !up),
      async metric(name, labels = {}) {
        const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
        return (await ingress.node.metrics.text())
          .split('\n')
          .filter((l) => (l.startsWith(`${name}{`) || l.startsWith(`${name} `)) && want.every((w) => l.includes(w)))
          .reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);
      },
      forwards: (name, type) => ownerOf('a', MEMBERS, name, type) !== 'a',
    };
  }, 120_000);

  afterAll(async () => {
    for (const n of nodes) await n.stop();
    await relay?.close();
    await nsd?.stop();
  });

  runCases(CASES, () => site);
});
