/**
 * AppDataManager on a stand-in chain: data applied while a reload takes the app out of the
 * chain is refused with a reason (it used to throw from a background watch and end the process).
 */

import { describe, expect, it } from 'vitest';
import { silentLogger } from '../core/log.js';
import { MemoryMetrics } from '../core/metrics.js';
import type { WasmAppChain } from './app-chain.js';
import { AppDataManager } from './app-data.js';

describe('AppDataManager', () => {
  it('refuses data whose app left the chain while it was being hashed', async () => {
    const inst = { load: () => ({ ok: true }), validate: () => ({ ok: true }), lastLoad: () => undefined, clearData: () => ({ ok: true }) };
    // In the chain for the first look (the size and presence check), gone by the next: a reload
    // landed while the data was hashed.
    let looks = 0;
    const chain = { app: (name: string) => (looks++ === 0 && name === 'override' ? inst : undefined) } as unknown as WasmAppChain;
    const m = new AppDataManager('override', () => chain, new MemoryMetrics(), silentLogger, 1 << 20);
    const r = await m.apply(new TextEncoder().encode('phase = pre-cache set-tag x\n'), 'pushed rules');
    expect(r).toEqual({ ok: false, errors: ['pushed rules: app override is not in the chain'] });
    expect(looks).toBe(2);
  });

  it('puts a saved rule file back to "no rules" when the set it saved is refused by the running app', async () => {
    // Validated in a scratch instance, then refused by the real one (it trapped).
    const inst = { load: () => ({ ok: false, error: 'trapped' }), validate: () => ({ ok: true }), lastLoad: () => undefined, clearData: () => ({ ok: true }) };
    const chain = { app: () => inst } as unknown as WasmAppChain;
    const m = new AppDataManager('override', () => chain, new MemoryMetrics(), silentLogger, 1 << 20);
    const saved: Array<string | null> = [];
    const r = await m.apply(new TextEncoder().encode('phase = pre-cache set-tag x\n'), 'pushed rules', async (d) => void saved.push(d && new TextDecoder().decode(d)));
    expect(r.ok).toBe(false);
    expect(saved).toEqual(['phase = pre-cache set-tag x\n', null]);
  });
});
