/**
 * One table for each closed list: phases, transports, verdicts and the rest are declared once on
 * the host side, and the guest side is generated from them (host/abi/guest-tables.ts, written by
 * scripts/build.mjs). These fail when a generated file is not what the tables give (edited by
 * hand, or a table changed without a rebuild), and when the built override app does not read the
 * host's phases, transports, RR types and rcodes.
 */

import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { guestTables } from '../../host/abi/guest-tables.js';
import { phaseNames, phaseTable } from '../../host/core/phases.js';
import { transportTable } from '../../host/core/context.js';
import { Rcode, RRType } from '../../host/core/dns/rr-types.js';
import type { LoadResult } from '../../host/apps/app-instance.js';
import { harnessFor } from '../helpers/apps.js';
import { root } from '../helpers/edge.js';

const errorOf = (r: LoadResult) => (r.ok ? '' : r.error);
const clientTransports = Object.entries(transportTable).filter(([, t]) => t.client).map(([name]) => name);
const otherTransports = Object.entries(transportTable).filter(([, t]) => !t.client).map(([name]) => name);
const namesWhere = (message: 'query' | 'response') => phaseTable.filter((p) => p.message === message).map((p) => p.name).join(' and ');

describe('generated guest tables', () => {
  it('are on disk as the host tables give them (run `npm run build` after changing a table)', () => {
    const files = guestTables();
    expect(files.map((f) => f.path).sort()).toEqual(['assembly/context.generated.ts', 'assembly/rrtypes.generated.ts', 'assembly/tables.generated.ts']);
    for (const f of files) expect(readFileSync(join(root, f.path), 'utf8'), f.path).toBe(f.text);
  });

  it('give the override app its phase names, and which phases carry a response', () => {
    const h = harnessFor('override');
    expect(errorOf(h.loadText('phase = later set-tag t\n'))).toContain(`unknown phase "later" (phases: ${phaseNames.join(', ')})`);
    expect(errorOf(h.loadText('rule\n'))).toContain(`"phase = <${phaseNames.join('|')}>"`);
    for (const p of phaseTable) {
      const rcode = h.loadText(`phase = ${p.name} rcode NXDOMAIN set-tag t\n`);
      const forward = h.loadText(`phase = ${p.name} forward-to default\n`);
      expect(rcode.ok, p.name).toBe(p.message === 'response');
      expect(forward.ok, p.name).toBe(p.message === 'query');
      if (!rcode.ok) expect(errorOf(rcode)).toContain(`rcode only matches in ${namesWhere('response')}`);
      if (!forward.ok) expect(errorOf(forward)).toContain(`forward-to only acts in ${namesWhere('query')}`);
    }
  });

  it('give the override app the transports a rule can name; the others never match', () => {
    const h = harnessFor('override');
    expect(otherTransports.length).toBeGreaterThan(0);
    for (const t of otherTransports) {
      expect(errorOf(h.loadText(`phase = pre-cache transport ${t} set-tag t\n`))).toContain(`unknown transport "${t}" (${clientTransports.join(', ')})`);
    }
    expect(h.loadText(`phase = pre-cache transport ${clientTransports.join(',')} set-tag seen\n`).ok).toBe(true);
    for (const t of clientTransports) expect(h.query('a.test', { transport: t as 'udp' }).tags, t).toEqual(['seen']);
    for (const t of otherTransports) expect(h.query('a.test', { transport: t as 'internal' }).tags, t).toEqual([]);
  });

  it('give the override app every RR type and header rcode the host knows', () => {
    const h = harnessFor('override');
    const types = Object.keys(RRType).map((t, i) => `phase = pre-cache qname t${i}.test qtype ${t.toLowerCase()} set-tag t`);
    expect(h.loadText(types.join('\n') + '\n')).toEqual({ ok: true });
    expect(errorOf(h.loadText('phase = pre-cache qtype NOSUCHTYPE set-tag t\n'))).toContain('unknown type "NOSUCHTYPE"');
    const header = Object.entries(Rcode).filter(([, v]) => v < 16);
    const rcodes = header.map(([r], i) => `phase = pre-cache qname r${i}.test respond ${r}`);
    expect(h.loadText(rcodes.join('\n') + '\n')).toEqual({ ok: true });
    for (const [r, v] of header) {
      if (h.loadText(`phase = pre-cache qname r.test respond ${r}\n`).ok !== true) throw new Error(r);
      expect(h.query('r.test').response?.rcode, r).toBe(v);
    }
    // An extended rcode needs an OPT record, which only the host writes: not an answer a rule can give.
    expect(h.loadText('phase = pre-cache respond BADVERS\n').ok).toBe(false);
  });
});
