/**
 * EDNS options in client queries (issue 13, item 7): a resolver that does not implement Client
 * Subnet ignores a well-formed ECS option (RFC 7871 §7.1.1) and answers FORMERR to a malformed
 * one (§6: a FAMILY it does not know, a prefix longer than the family, ADDRESS bytes that do not
 * match SOURCE PREFIX-LENGTH, SCOPE PREFIX-LENGTH not 0 in a query).
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dig } from '../helpers/dig.js';
import { needTools } from '../helpers/tools.js';
import { startEdge, type TestNode } from '../helpers/edge.js';
import { udpExchange } from '../helpers/net.js';
import { reply, rr, qnameOf, startScriptedUpstream, type ScriptedUpstream } from '../helpers/scripted-upstream.js';
import { buildQuery, textToName } from '../../host/core/dns/wire.js';

const haveTools = needTools('dig');
const prefix = `127.${20 + Math.floor(Math.random() * 231)}.${Math.floor(Math.random() * 256)}`;

const ecs = (family: number, source: number, scope: number, address: number[]) =>
  new Uint8Array([family >> 8, family & 0xff, source, scope, ...address]);

describe.skipIf(!haveTools)('ECS in a client query', () => {
  let up: ScriptedUpstream;
  let edge: TestNode;

  beforeAll(async () => {
    up = await startScriptedUpstream((q) => reply(q, { answer: [rr(qnameOf(q), 1, 300, new Uint8Array([192, 0, 2, 5]))] }), `${prefix}.1`);
    edge = await startEdge(`
[upstreams]
default = ["${up.address}"]
[apps.forward.config.routes]
"." = "default"
`);
  });

  afterAll(async () => {
    await edge?.stop();
    await up?.close();
  });

  it('ignores a well-formed ECS option (dig +subnet), IPv4 and IPv6 and the /0 form', async () => {
    for (const subnet of ['192.0.2.0/24', '2001:db8::/56', '0.0.0.0/0']) {
      const r = await dig(edge.dns, [`ecs${subnet.length}.example.test`, 'A', `+subnet=${subnet}`]);
      expect(r.status, subnet).toBe('NOERROR');
      expect(r.answers[0]?.data).toBe('192.0.2.5');
      // Not implemented, so not echoed (RFC 7871 §7.2.1: only a server that does ECS answers with it).
      expect(r.raw).not.toMatch(/CLIENT-SUBNET/);
    }
  });

  it('answers FORMERR to a malformed ECS option', async () => {
    const bad = [
      ecs(3, 8, 0, [10]), // unknown family
      ecs(1, 33, 0, [192, 0, 2, 0, 0]), // prefix longer than IPv4
      ecs(1, 24, 0, [192, 0, 2, 0]), // four address bytes for a /24 (must be three)
      ecs(1, 24, 8, [192, 0, 2]), // scope not 0 in a query
      ecs(1, 20, 0, [192, 0, 0x2f]), // bits past the prefix set
      new Uint8Array([0, 1, 24]), // shorter than its fixed part
    ];
    for (const [i, data] of bad.entries()) {
      const q = buildQuery({ name: textToName(`bad${i}.example.test.`), type: 1, class: 1 }, { id: 4242 + i, udpSize: 1232, options: [{ code: 8, data }] });
      const r = await udpExchange(edge.dns.port, q);
      expect(r[3]! & 0xf, `case ${i}`).toBe(1);
    }
  });
});
