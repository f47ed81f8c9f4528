/**
 * The zone worker thread runs only while a copy is ingested (issue 16, resident memory): it
 * stops once no parsed copy is held and no answer is owed, and the next copy starts it again.
 * An idle worker kept a V8 heap the size of the last zone it parsed for as long as the node ran.
 */

import { describe, expect, it } from 'vitest';
import { WorkerZoneCompiler, zoneWorkerScript } from './zone-compiler.js';
import type { CompileChecks } from '../../core/zone/compile.js';
import { waitFor } from '../../../test/helpers/net.js';

const script = zoneWorkerScript();

function zone(serial: number): Uint8Array {
  const lines = ['$ORIGIN .', '$TTL 86400', `. IN SOA a.root. nstld. ${serial} 1800 900 604800 86400`, '. IN NS a.root.', 'a.root. IN A 127.0.0.1'];
  for (let i = 0; i < 50; i++) lines.push(`t${i}. IN NS ns.t${i}.`);
  return new TextEncoder().encode(lines.join('\n') + '\n');
}

const checks = (): CompileChecks => ({ trustAnchor: null, zonemd: 'verify-if-present', dnssec: 'verify-if-present', now: Date.now(), lastRefresh: Date.now() });

describe.skipIf(!script && !process.env.CI)('the zone worker thread', () => {
  it('stops when a copy is compiled and starts again for the next one', async () => {
    const c = new WorkerZoneCompiler(script!);
    try {
      expect(c.running).toBe(false);
      const parsed = await c.parse(zone(1), { kind: 'text', file: 'root.zone' });
      // it holds the parsed copy until it is finished
      expect(c.running).toBe(true);
      const first = await parsed.finish(checks());
      expect(first.report.serial).toBe(1);
      expect(first.image.byteLength).toBeGreaterThan(0);
      await waitFor(async () => !c.running, 5_000);

      const again = await (await c.parse(zone(2), { kind: 'text', file: 'root.zone' })).finish(checks());
      expect(again.report.serial).toBe(2);
      await waitFor(async () => !c.running, 5_000);
    } finally {
      await c.close();
    }
  });

  it('stops when a parsed copy is dropped or a copy fails, and the next copy is compiled', async () => {
    const c = new WorkerZoneCompiler(script!);
    try {
      (await c.parse(zone(3), { kind: 'text', file: 'root.zone' })).drop();
      expect(c.running).toBe(false);

      await expect(c.parse(new TextEncoder().encode('. IN SOA broken\n'), { kind: 'text', file: 'bad.zone' })).rejects.toThrow(/bad\.zone/);
      expect(c.running).toBe(false);

      // two copies in flight: the worker stays until the last is done
      const a = await c.parse(zone(4), { kind: 'text', file: 'a.zone' });
      const b = await c.parse(zone(5), { kind: 'text', file: 'b.zone' });
      expect((await a.finish(checks())).report.serial).toBe(4);
      expect(c.running).toBe(true);
      expect((await b.finish(checks())).report.serial).toBe(5);
      expect(c.running).toBe(false);
    } finally {
      await c.close();
    }
  });
});
