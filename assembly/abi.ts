// The raw host imports of ABI v1, and nothing else. docs/abi/v1.md specifies each one; an app
// uses the typed wrappers in sdk.ts. Pointers are into this module's memory; the host copies
// what it needs before the import returns and never keeps a pointer.

// Always granted: the output channel of a call.
@external("edge", "respond")
export declare function respond(ptr: usize, len: usize): void;

@external("edge", "set_target")
export declare function set_target(ptr: usize, len: usize): void;

@external("edge", "tag_set")
export declare function tag_set(ptr: usize, len: usize): i32;

@external("edge", "tag_clear")
export declare function tag_clear(ptr: usize, len: usize): i32;

@external("edge", "ctx_set")
export declare function ctx_set(field: i32, ptr: usize, len: usize): i32;

@external("edge", "load_error")
export declare function load_error(ptr: usize, len: usize): void;

// Optional (v1 hosts that predate it refuse a module importing it): the scope of the data an
// on_load(DATA) call accepted, so the host knows which cached answers a change can affect.
@external("edge", "data_scope")
export declare function data_scope(ptr: usize, len: usize): i32;

// Capability "log".
@external("edge", "log")
export declare function log(level: i32, ptr: usize, len: usize): void;

// Capability "clock": milliseconds since the Unix epoch.
@external("edge", "now_ms")
export declare function now_ms(): f64;

// Capability "metrics": adds delta to the app's counter named by the UTF-8 bytes.
@external("edge", "metric_add")
export declare function metric_add(ptr: usize, len: usize, delta: i32): void;
