/**
 * The few Workers runtime types the adapter uses, written out by hand: @cloudflare/workers-types
 * redeclares the DOM's Request/Response and clashes with the lib the core is checked against,
 * and the adapter needs only these members.
 */

declare module '*.wasm' {
  const module: WebAssembly.Module;
  export default module;
}

interface KVNamespace {
  get(key: string, type: 'text'): Promise<string | null>;
  get(key: string, type: 'arrayBuffer'): Promise<ArrayBuffer | null>;
}

interface DurableObjectId {
  toString(): string;
}

interface DurableObjectStub {
  fetch(input: string | Request, init?: RequestInit): Promise<Response>;
}

interface DurableObjectNamespace {
  idFromName(name: string): DurableObjectId;
  get(id: DurableObjectId): DurableObjectStub;
}

interface DurableObjectState {
  readonly id: DurableObjectId;
  waitUntil(promise: Promise<unknown>): void;
}

interface ExecutionContext {
  waitUntil(promise: Promise<unknown>): void;
  passThroughOnException(): void;
}
