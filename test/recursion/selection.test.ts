/**
 * Server selection over real sockets: a dead server (nothing listens at its address) costs
 * one timeout and is then left alone; a zone whose every server is dead fails within bounds;
 * a server that stops answering is set aside after consecutive timeouts and tried again once
 * the hold ends; traffic moves off a slow server; steering rules move it at run time.
 */

import { describe, expect, it } from 'vitest';
import { Rcode } from '../../host/core/dns/rr-types.js';
import { textToName } from '../../host/core/dns/wire.js';
import { sleep } from '../helpers/net.js';
import type { Hierarchy } from '../helpers/hierarchy.js';
import { answers, deadline, iteratorFor, q, seen, useWorld } from './world.js';

let h: Hierarchy;
const ok = useWorld((w) => (h = w));

const slowAsked = () => seen(h, 'slowbox').filter((x) => x.endsWith('.slow.test. A')).length;

describe.runIf(ok)('server selection', () => {
  it('costs a dead server one timeout, then leaves it alone', async () => {
    const { it: r, metrics } = iteratorFor(h, { selection: { unknownTimeoutMs: 300, explore: 0 } });
    const zone = textToName('dead.test.');
    // Make sure the first question tries the dead address first.
    r.steer(zone, { avoid: [], prefer: [h.ip.dead!] });
    const started = Date.now();
    const first = await r.resolve(q('n0.dead.test.'), { deadline: deadline() });
    expect(answers(first.body)).toEqual(['n0.dead.test. A 192.0.2.200']);
    r.steer(zone, null);
    for (let i = 1; i < 8; i++) {
      const res = await r.resolve(q(`n${i}.dead.test.`), { deadline: deadline() });
      expect(answers(res.body)).toEqual([`n${i}.dead.test. A 192.0.2.200`]);
    }
    // One timeout, then the dead address ranks last by its backed-off timeout.
    expect(metrics.value('edge_recursion_queries_total', { result: 'timeout' })).toBe(1);
    expect(Date.now() - started).toBeLessThan(3000);
    expect(r.status().servers.find((s) => s.address === h.ip.dead)).toMatchObject({ consecutiveTimeouts: 1, timeoutMs: 600 });
  });

  it('answers SERVFAIL within bounds when every server of a zone is dead, and sets it aside', async () => {
    const { it: r, metrics } = iteratorFor(h, { selection: { unknownTimeoutMs: 100, deadAfterTimeouts: 2, deadHoldMs: 60_000 } });
    const started = Date.now();
    const res = await r.resolve(q('www.alldead.test.'), { deadline: deadline(3000) });
    expect(res.rcode).toBe(Rcode.SERVFAIL);
    expect(res.failure?.reason).toBe('no_reachable_authority');
    const second = await r.resolve(q('www2.alldead.test.'), { deadline: deadline(3000) });
    expect(second.rcode).toBe(Rcode.SERVFAIL);
    // 100 ms, then 200 ms (backoff); then set aside: the third question sends nothing.
    expect(metrics.value('edge_recursion_set_aside_total', { reason: 'dead' })).toBe(1);
    const timeouts = metrics.value('edge_recursion_queries_total', { result: 'timeout' });
    const third = await r.resolve(q('www3.alldead.test.'), { deadline: deadline(3000) });
    expect(third.rcode).toBe(Rcode.SERVFAIL);
    expect(metrics.value('edge_recursion_queries_total', { result: 'timeout' })).toBe(timeouts);
    expect(Date.now() - started).toBeLessThan(2500);
  });

  it('sets a silent server aside after consecutive timeouts and tries it again when the hold ends', async () => {
    const box = h.servers.slowbox!;
    const { it: r } = iteratorFor(h, {
      selection: { unknownTimeoutMs: 100, deadAfterTimeouts: 2, deadHoldMs: 400, explore: 0 },
    });
    // Make slowbox the preferred server, then silence it.
    r.steer(textToName('slow.test.'), { avoid: [], prefer: [box.address] });
    box.behaviour.drop = true;
    for (let i = 0; i < 4; i++) {
      const res = await r.resolve(q(`d${i}.slow.test.`), { deadline: deadline() });
      expect(answers(res.body)).toEqual([`d${i}.slow.test. A 192.0.2.200`]);
    }
    // Two timeouts, then set aside: the other two questions went straight to the other server.
    expect(slowAsked()).toBe(2);
    expect(r.status().servers.find((s) => s.address === box.address)!.dead).toBe(true);
    // The hold ends; the server answers again and, preferred, gets the next question.
    box.behaviour.drop = false;
    await sleep(450);
    h.clearLogs();
    const back = await r.resolve(q('back.slow.test.'), { deadline: deadline() });
    expect(answers(back.body)).toEqual(['back.slow.test. A 192.0.2.200']);
    expect(slowAsked()).toBe(1);
    expect(r.status().servers.find((s) => s.address === box.address)!.dead).toBe(false);
  });

  it('moves traffic off a slow server', async () => {
    h.servers.slowbox!.behaviour.delayMs = 150;
    const { it: r } = iteratorFor(h);
    for (let i = 0; i < 30; i++) {
      const res = await r.resolve(q(`s${i}.slow.test.`), { deadline: deadline() });
      expect(res.rcode).toBe(Rcode.NOERROR);
    }
    // Once measured, the fast server takes the questions; the slow one gets ε-exploration only.
    expect(slowAsked()).toBeGreaterThanOrEqual(1);
    expect(slowAsked()).toBeLessThanOrEqual(4);
    const st = r.status().servers;
    expect(st.find((s) => s.address === h.ip.slowbox)!.srttMs!).toBeGreaterThan(100);
  });

  it('is steered at run time: avoid an address, prefer others, clear the rule', async () => {
    const { it: r, metrics } = iteratorFor(h, { selection: { explore: 0 } });
    const zone = textToName('slow.test.');
    await r.resolve(q('warm.slow.test.'), { deadline: deadline() });
    r.steer(zone, { avoid: [h.ip.multi!], prefer: [] });
    h.clearLogs();
    for (let i = 0; i < 5; i++) await r.resolve(q(`a${i}.slow.test.`), { deadline: deadline() });
    expect(slowAsked()).toBe(5);
    expect(seen(h, 'multi').filter((x) => x.endsWith('.slow.test. A'))).toEqual([]);
    expect(metrics.value('edge_recursion_steered_total', { action: 'avoid' })).toBe(5);

    r.steer(zone, { avoid: [], prefer: [h.ip.multi!] });
    h.clearLogs();
    for (let i = 0; i < 5; i++) await r.resolve(q(`p${i}.slow.test.`), { deadline: deadline() });
    expect(slowAsked()).toBe(0);
    expect(r.status().steering).toEqual([{ zone: 'slow.test.', avoid: [], prefer: [h.ip.multi] }]);

    // Avoiding every address leaves them usable: an avoid rule never makes a zone unreachable.
    r.steer(zone, { avoid: [h.ip.multi!, h.ip.slowbox!], prefer: [] });
    expect((await r.resolve(q('all.slow.test.'), { deadline: deadline() })).rcode).toBe(Rcode.NOERROR);
    r.steer(zone, null);
    expect(r.status().steering).toEqual([]);
  });

  it('applies a rule to the zones below it that have none of their own', async () => {
    const { it: r } = iteratorFor(h, { selection: { explore: 0 } });
    await r.resolve(q('warm.slow.test.'), { deadline: deadline() });
    r.steer(textToName('test.'), { avoid: [h.ip.multi!], prefer: [] });
    h.clearLogs();
    for (let i = 0; i < 3; i++) await r.resolve(q(`below${i}.slow.test.`), { deadline: deadline() });
    expect(slowAsked()).toBe(3);
  });
});
