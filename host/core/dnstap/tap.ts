/**
 * The dnstap tap: which message types are logged, and the events the node hands it (a client's
 * query and our answer to it, each query sent upstream and its reply), made into dnstap payloads
 * for an output the adapter owns (Node: a file or a unix socket, dnstap-output.ts). Runtime
 * neutral; the output decides what to do with a payload it has no room for (drop and count), so
 * emitting never blocks or throws into the answer path.
 */

import { parseIPv4, parseIPv6 } from '../context.js';
import type { UpstreamTransport } from '../upstream.js';
import { encodeDnstap, HttpProtocol, MessageType, SocketFamily, SocketProtocol, type DnstapMessage, type MessageTypeValue } from './protobuf.js';

export { MessageType, SocketProtocol } from './protobuf.js';

/** What `[dnstap]` asks for, as the tap takes it. */
export interface TapSettings {
  /** Sent in every payload when not null (Unbound: dnstap-identity; the default is the host name). */
  identity: string | null;
  version: string | null;
  clientQueries: boolean;
  clientResponses: boolean;
  resolverQueries: boolean;
  resolverResponses: boolean;
  forwarderQueries: boolean;
  forwarderResponses: boolean;
}

export interface Endpoint {
  address: string;
  port: number;
}

/** An address as dnstap carries it: family and 4 or 16 bytes (an IPv4-mapped IPv6 address as IPv4). */
export function addressBytes(address: string): { family: number; bytes: Uint8Array } | null {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  const v4 = parseIPv4(mapped ? mapped[1]! : address);
  if (v4) return { family: SocketFamily.INET, bytes: Uint8Array.from(v4) };
  const v6 = parseIPv6(address);
  return v6 ? { family: SocketFamily.INET6, bytes: Uint8Array.from(v6) } : null;
}

const CLIENT_PROTOCOL: Record<string, number> = { udp: SocketProtocol.UDP, tcp: SocketProtocol.TCP, dot: SocketProtocol.DOT, doh: SocketProtocol.DOH };

export class Dnstap {
  /** Bit (1 << type) for each message type logged; 0 is off. */
  private types = 0;
  private identity: Uint8Array | null = null;
  private version: Uint8Array | null = null;

  constructor(
    /** Takes one encoded payload; never throws (an output that is full drops and counts). */
    private readonly out: (payload: Uint8Array) => void,
    readonly now: () => number = () => performance.timeOrigin + performance.now(),
  ) {}

  /** Follows a config; null switches the tap off. */
  configure(s: TapSettings | null): void {
    const bit = (on: boolean, t: MessageTypeValue) => (on ? 1 << t : 0);
    this.types = s
      ? bit(s.clientQueries, MessageType.CLIENT_QUERY) |
        bit(s.clientResponses, MessageType.CLIENT_RESPONSE) |
        bit(s.resolverQueries, MessageType.RESOLVER_QUERY) |
        bit(s.resolverResponses, MessageType.RESOLVER_RESPONSE) |
        bit(s.forwarderQueries, MessageType.FORWARDER_QUERY) |
        bit(s.forwarderResponses, MessageType.FORWARDER_RESPONSE)
      : 0;
    const enc = (t: string | null) => (t ? new TextEncoder().encode(t) : null);
    this.identity = enc(s?.identity ?? null);
    this.version = enc(s?.version ?? null);
  }

  wants(type: MessageTypeValue): boolean {
    return (this.types & (1 << type)) !== 0;
  }

  emit(m: DnstapMessage): void {
    if (this.wants(m.type)) this.out(encodeDnstap(m, this.identity, this.version));
  }

  /**
   * A client's query as it arrives (CLIENT_QUERY), over `transport` from `client` to our
   * listener `local`. Returns what to call with the bytes sent back (CLIENT_RESPONSE; null when
   * none was), or null when neither is logged: the adapter's whole cost with dnstap off.
   */
  client(transport: string, client: Endpoint | null, local: Endpoint | null, query: Uint8Array, http2 = false): ((response: Uint8Array | null) => void) | null {
    if (!this.wants(MessageType.CLIENT_QUERY) && !this.wants(MessageType.CLIENT_RESPONSE)) return null;
    const queryTime = this.now();
    const from = client ? addressBytes(client.address) : null;
    const to = local ? addressBytes(local.address) : null;
    const protocol = CLIENT_PROTOCOL[transport];
    const base: Omit<DnstapMessage, 'type'> = {
      ...(from || to ? { family: (from ?? to)!.family } : {}),
      ...(protocol !== undefined ? { protocol } : {}),
      ...(protocol === SocketProtocol.DOH ? { httpProtocol: http2 ? HttpProtocol.HTTP2 : HttpProtocol.HTTP1 } : {}),
      ...(from ? { queryAddress: from.bytes, queryPort: client!.port } : {}),
      ...(to ? { responseAddress: to.bytes, responsePort: local!.port } : {}),
      queryTime,
    };
    this.emit({ type: MessageType.CLIENT_QUERY, ...base, queryMessage: query });
    return (response) => {
      if (response) this.emit({ type: MessageType.CLIENT_RESPONSE, ...base, responseTime: this.now(), responseMessage: response });
    };
  }

  /** A query we send to `server` and its reply: RESOLVER_* (recursion) or FORWARDER_* (an upstream group). */
  private async exchange(role: 'resolver' | 'forwarder', protocol: number, server: Endpoint | null, query: Uint8Array, send: () => Promise<Uint8Array>): Promise<Uint8Array> {
    const q = role === 'resolver' ? MessageType.RESOLVER_QUERY : MessageType.FORWARDER_QUERY;
    const r = role === 'resolver' ? MessageType.RESOLVER_RESPONSE : MessageType.FORWARDER_RESPONSE;
    if (!this.wants(q) && !this.wants(r)) return send();
    const to = server ? addressBytes(server.address) : null;
    const base: Omit<DnstapMessage, 'type'> = {
      ...(to ? { family: to.family, responseAddress: to.bytes, responsePort: server!.port } : {}),
      protocol,
      ...(protocol === SocketProtocol.DOH ? { httpProtocol: HttpProtocol.HTTP1 } : {}),
      queryTime: this.now(),
    };
    this.emit({ type: q, ...base, queryMessage: query });
    const reply = await send();
    this.emit({ type: r, ...base, responseTime: this.now(), responseMessage: reply });
    return reply;
  }

  /**
   * `t` with every exchange through it logged as `role` messages. What `t` has beyond the four
   * transports is reached through the prototype, untouched.
   */
  transport(t: UpstreamTransport, role: 'resolver' | 'forwarder'): UpstreamTransport {
    const tapped = Object.create(t) as UpstreamTransport;
    tapped.udp = (host, port, msg, timeoutMs, accept) => this.exchange(role, SocketProtocol.UDP, { address: host, port }, msg, () => t.udp(host, port, msg, timeoutMs, accept));
    tapped.tcp = (host, port, msg, timeoutMs) => this.exchange(role, SocketProtocol.TCP, { address: host, port }, msg, () => t.tcp(host, port, msg, timeoutMs));
    const tls = t.tls;
    if (tls) {
      tapped.tls = (server, msg, timeoutMs, accept) =>
        this.exchange(role, SocketProtocol.DOT, { address: server.host, port: server.port }, msg, () => tls.call(t, server, msg, timeoutMs, accept));
    }
    const doh = t.doh;
    if (doh) {
      tapped.doh = (url, msg, timeoutMs, headers) => {
        const u = new URL(url);
        const port = Number(u.port) || (u.protocol === 'https:' ? 443 : 80);
        return this.exchange(role, SocketProtocol.DOH, { address: u.hostname.replace(/^\[|\]$/g, ''), port }, msg, () => doh.call(t, url, msg, timeoutMs, headers));
      };
    }
    return tapped;
  }
}
