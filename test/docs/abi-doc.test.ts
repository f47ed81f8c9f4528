/**
 * docs/abi/v1.md against the code: every table that lists a closed set (phases, verdicts, load
 * kinds, statuses, ctx_set fields, imports, trap reasons, context fields, transports, scope flags)
 * says what the host and the SDK do, so the contract cannot drift from either.
 */

import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ScopeFlag } from '../../host/abi/data-scope.js';
import { importCapability, trapReasons } from '../../host/abi/imports.js';
import { CtxField, LoadKind, Status, Verdict } from '../../host/abi/verdict.js';
import { Field, transportTable } from '../../host/core/context.js';
import { phaseTable } from '../../host/core/phases.js';
import { root } from '../helpers/edge.js';

const doc = readFileSync(join(root, 'docs/abi/v1.md'), 'utf8');

/** The rows (cells, without backticks) of the first table after the heading `heading`. */
function table(heading: string): string[][] {
  const lines = doc.split('\n');
  const at = lines.findIndex((l) => /^#+ /.test(l) && l.replace(/^#+ /, '').replace(/`/g, '') === heading);
  if (at < 0) throw new Error(`docs/abi/v1.md has no heading "${heading}"`);
  const rows: string[][] = [];
  for (const line of lines.slice(at + 1)) {
    if (/^#+ /.test(line)) break;
    if (!line.startsWith('|')) {
      if (rows.length) break;
      continue;
    }
    rows.push(line.slice(1, -1).split(' | ').map((c) => c.trim().replace(/`/g, '')));
  }
  if (rows.length < 3) throw new Error(`no table under "${heading}"`);
  return rows.slice(2); // header and rule
}

/** `NAME | value` rows as a record. */
const valued = (heading: string) => Object.fromEntries(table(heading).map((r) => [r[0]!, Number(r[1])]));

describe('docs/abi/v1.md says what the code does', () => {
  it('phases: names, values and what the call carries', () => {
    const rows = table('Phases');
    expect(rows.map((r) => [r[0], Number(r[1])])).toEqual(phaseTable.map((p, i) => [p.name, i]));
    rows.forEach((r, i) => expect(r[2], r[0]).toMatch(new RegExp(`^${phaseTable[i]!.message}\\b`)));
  });

  it('verdicts, load kinds, statuses and ctx_set fields', () => {
    expect(valued('Verdicts')).toEqual(Verdict);
    expect(valued('on_load(kind: i32, len: i32) -> i32')).toEqual(LoadKind);
    expect(valued('Status values')).toEqual(Status);
    expect(valued('ctx_set fields')).toEqual(CtxField);
  });

  it('imports: names, capabilities, and the signatures the SDK declares', () => {
    const rows = table('Imports');
    const cap = (c: string) => (c === '—' ? null : c);
    expect(Object.fromEntries(rows.filter((r) => r[0] !== 'env.abort').map((r) => [r[0], cap(r[2]!)]))).toEqual(importCapability);
    expect(rows.map((r) => r[0])).toContain('env.abort');
    // assembly/abi.ts holds every edge import the SDK can make, and nothing else
    const sdk = readFileSync(join(root, 'assembly/abi.ts'), 'utf8');
    const declared = [...sdk.matchAll(/@external\("edge", "(\w+)"\)\s*export declare function \w+\(([^)]*)\): (\w+);/g)].map((m) => ({
      name: m[1]!,
      params: m[2]!.split(',').filter((p) => p.trim()).length,
      returns: m[3] !== 'void',
    }));
    expect(declared.map((d) => d.name).sort()).toEqual(Object.keys(importCapability).sort());
    for (const d of declared) {
      const sig = rows.find((r) => r[0] === d.name)![1]!;
      const m = /^\(([^)]*)\)( -> \w+)?$/.exec(sig);
      expect(m, `${d.name}: signature "${sig}"`).not.toBeNull();
      expect(m![1]!.split(',').filter((p) => p.trim()).length, d.name).toBe(d.params);
      expect(!!m![2], d.name).toBe(d.returns);
    }
  });

  it('trap reasons: every reason the host counts, and no other', () => {
    expect(table('Errors and crash policy').map((r) => r[0]).sort()).toEqual([...trapReasons].sort());
    // and the string limits: an oversize string is a bad-pointer trap
    expect(doc).toMatch(/A longer one is a\s+trap \(`bad-pointer`\)/);
  });

  it('context fields and transports', () => {
    const fields = table('Context encoding').map((r) => Number(r[0]));
    expect(fields).toEqual(Object.values(Field));
    expect(table('Transports').map((r) => [r[0], Number(r[1]), r[2]!.startsWith('yes')])).toEqual(
      Object.entries(transportTable).map(([name, t]) => [name, t.value, t.client]),
    );
  });

  it('the data_scope flags', () => {
    const flags = Object.fromEntries([...doc.matchAll(/bit (\d) `([A-Z_]+)`/g)].map((m) => [m[2]!, 1 << Number(m[1])]));
    expect(flags).toEqual(ScopeFlag);
  });
});
