/**
 * A trapping app in a running resolver, queried with dig: fail-open skips it and the answer
 * still comes from upstream; fail-closed answers SERVFAIL. A module built for another ABI is
 * refused at start with a message naming it.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startNsd, type Nsd } from '../helpers/nsd.js';
import { dig } from '../helpers/dig.js';
import { needTools } from '../helpers/tools.js';
import { startEdge, root } from '../helpers/edge.js';
import { catalogWith, testManifest } from '../helpers/apps.js';
import { ConfigError } from '../../host/core/config.js';

const zone = readFileSync(join(root, 'test/fixtures/example.test.zone'), 'utf8');

describe.skipIf(!needTools('nsd', 'dig'))('app isolation in a running resolver', () => {
  let nsd: Nsd;
  beforeAll(async () => {
    nsd = await startNsd({ 'example.test.': zone });
  });
  afterAll(async () => nsd?.stop());

  const catalog = (failure: string) =>
    catalogWith({
      trap_app: { file: 'trap', manifest: testManifest('trap_app', { failure }) },
      abi_v2: { file: 'abi-v2', manifest: testManifest('abi_v2') },
    });

  const config = (chain: string) => `
[upstreams]
default = ["${nsd.address}"]
[apps]
chain = ${chain}
[apps.forward.config.routes]
"." = "default"
`;

  it.each([
    ['fail-open', 'NXDOMAIN'],
    ['fail-closed', 'SERVFAIL'],
  ])('with %s, a trapping app gives %s and the node keeps answering', async (failure, expected) => {
    const edge = await startEdge(config('["trap_app", "forward"]'), { catalog: catalog(failure) });
    try {
      // trap.example.test does not exist upstream: fail-open shows the upstream's NXDOMAIN.
      expect((await dig(edge.dns, ['trap.example.test', 'A'])).status).toBe(expected);
      // The app answers "ok.*" itself with NXDOMAIN (it was re-instantiated after the trap).
      expect((await dig(edge.dns, ['ok.example.test', 'A'])).status).toBe('NXDOMAIN');
      expect((await dig(edge.dns, ['www.example.test', 'A'])).answers[0]?.data).toBe('192.0.2.1');
      const text = await edge.node.metrics.text();
      expect(text).toMatch(/edge_app_traps_total\{app="trap_app",reason="trap"\} 1/);
    } finally {
      await edge.stop();
    }
  });

  it('refuses to start with an app built for another ABI version, naming the app and both versions', async () => {
    const err = await startEdge(config('["abi_v2", "forward"]'), { catalog: catalog('fail-open') }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect(String((err as Error).message)).toMatch(/app abi_v2 was built for ABI version 2; this host speaks ABI version 1/);
  });
});
