import { describe, expect, it } from 'vitest';
import { Control, controlFrame, dataFrame, readControlFrame } from './frame-streams.js';
import { encodeDnstap, MessageType } from './protobuf.js';
import { addressBytes, Dnstap, type TapSettings } from './tap.js';

const all: TapSettings = {
  identity: 'id',
  version: 'v',
  clientQueries: true,
  clientResponses: true,
  resolverQueries: true,
  resolverResponses: true,
  forwarderQueries: true,
  forwarderResponses: true,
};

describe('dnstap encoding', () => {
  it('writes the protobuf fields dnstap.proto numbers, times as seconds and fixed32 nanoseconds', () => {
    const b = encodeDnstap(
      { type: MessageType.CLIENT_QUERY, family: 1, protocol: 1, queryAddress: Uint8Array.of(127, 0, 0, 1), queryPort: 300, queryTime: 1_000_500.25, queryMessage: Uint8Array.of(0xab) },
      new TextEncoder().encode('id'),
    );
    const msg = [0x08, 5, 0x10, 1, 0x18, 1, 0x22, 4, 127, 0, 0, 1, 0x30, 0xac, 0x02, 0x40, 0xe8, 0x07, 0x4d, 0x90, 0x35, 0xd1, 0x1d, 0x52, 1, 0xab];
    // 500.25 ms is 500,250,000 ns. Around it: identity (1), message (14), type MESSAGE (15)
    expect([...b]).toEqual([0x0a, 2, 0x69, 0x64, 0x72, msg.length, ...msg, 0x78, 1]);
  });

  it('frames control and data as Frame Streams does, and reads a control frame back', () => {
    const f = controlFrame(Control.READY, ['protobuf:dnstap.Dnstap']);
    expect([...f.subarray(0, 16)]).toEqual([0, 0, 0, 0, 0, 0, 0, 34, 0, 0, 0, 4, 0, 0, 0, 1]);
    expect(readControlFrame(f)).toEqual({ frame: { type: Control.READY, contentTypes: ['protobuf:dnstap.Dnstap'] }, length: 42 });
    expect(readControlFrame(f.subarray(0, 20))).toBeNull();
    expect(() => readControlFrame(dataFrame(Uint8Array.of(1, 2)))).toThrow(/data frame/);
    expect([...dataFrame(Uint8Array.of(9))]).toEqual([0, 0, 0, 1, 9]);
  });

  it('takes IPv4, IPv6 and IPv4-mapped addresses', () => {
    expect(addressBytes('192.0.2.1')).toEqual({ family: 1, bytes: Uint8Array.of(192, 0, 2, 1) });
    expect(addressBytes('::ffff:192.0.2.1')).toEqual({ family: 1, bytes: Uint8Array.of(192, 0, 2, 1) });
    expect(addressBytes('::1')?.family).toBe(2);
    expect(addressBytes('::1')?.bytes.length).toBe(16);
    expect(addressBytes('localhost')).toBeNull();
  });
});

describe('the tap', () => {
  it('costs the listeners nothing when off, and sends only the types switched on', () => {
    const out: Uint8Array[] = [];
    const tap = new Dnstap((p) => out.push(p), () => 0);
    expect(tap.client('udp', { address: '127.0.0.1', port: 1 }, null, Uint8Array.of(1))).toBeNull();
    tap.configure({ ...all, clientQueries: false });
    tap.client('udp', { address: '127.0.0.1', port: 1 }, null, Uint8Array.of(1))!(Uint8Array.of(2));
    expect(out).toHaveLength(1);
    expect(out[0]![out[0]!.indexOf(0x72) + 3]).toBe(MessageType.CLIENT_RESPONSE);
    tap.configure(null);
    expect(tap.wants(MessageType.CLIENT_RESPONSE)).toBe(false);
  });

  it('logs a failed upstream exchange as its query alone, and passes the failure on', async () => {
    const out: Uint8Array[] = [];
    const tap = new Dnstap((p) => out.push(p), () => 0);
    tap.configure(all);
    const fail = () => Promise.reject(new Error('timeout'));
    const t = tap.transport({ udp: fail, tcp: fail }, 'forwarder');
    await expect(t.udp('127.0.0.1', 53, Uint8Array.of(1), 10, () => true)).rejects.toThrow('timeout');
    expect(out).toHaveLength(1);
    expect(t.doh).toBeUndefined();
    expect(t.tls).toBeUndefined();
  });

  it('logs DNS over TLS to an upstream as DOT', async () => {
    const out: Uint8Array[] = [];
    const tap = new Dnstap((p) => out.push(p), () => 0);
    tap.configure(all);
    const reply = Uint8Array.of(2);
    const t = tap.transport({ udp: () => Promise.reject(new Error('no')), tcp: () => Promise.reject(new Error('no')), tls: async () => reply }, 'forwarder');
    expect(await t.tls!({ host: '127.0.0.1', port: 853, name: 'dns.test' }, Uint8Array.of(1), 10, () => true)).toBe(reply);
    expect(out).toHaveLength(2);
    // Message field 3 (socket_protocol) is DOT (3), after type (field 1) and family (field 2).
    const m = out[1]!.subarray(out[1]!.indexOf(0x72) + 2);
    expect([...m.subarray(0, 6)]).toEqual([0x08, MessageType.FORWARDER_RESPONSE, 0x10, 1, 0x18, 3]);
  });
});
