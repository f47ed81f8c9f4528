/**
 * The V8 start flags a node runs with. They size the heap, so V8 reads them only when it makes
 * the heap: `v8.setFlagsFromString` at run time changes nothing, and each has to be on the node
 * command line of every process that answers queries. They are in the bin's first lines (so the
 * installed command, the systemd unit and `npx` have them), in `npm start`, and in the cluster
 * workers' execArgv; `test/node/v8-flags.test.ts` checks each. The bin starts `#!/bin/sh` then
 * `//bin/true; exec node FLAGS "$0" "$@"`, a comment to JavaScript: `#!/usr/bin/env -S node
 * FLAGS` would be plainer, but BusyBox's env (Alpine images) has no -S. Keep them in step with
 * NODE_FLAGS.
 *
 * `--max-semi-space-size=4`: the young generation's semi-spaces at 4 MB instead of V8's 16 MB.
 * Under a steady query load V8 grows them to the maximum, and 33.5 MB of two 16 MB semi-spaces
 * held under 1 MB of live objects. At 4 MB the resident memory under load falls by about 20 MB
 * (bench/RESULTS.md, the per-core section's notes) at the same CPU per query;
 * at 1 MB scavenges run so often that a cache hit costs about 20% more CPU.
 */

export const NODE_FLAGS: readonly string[] = ['--max-semi-space-size=4'];

/** The flags of NODE_FLAGS this process was not started with (argv or NODE_OPTIONS). */
export function missingNodeFlags(execArgv: readonly string[] = process.execArgv, nodeOptions = process.env.NODE_OPTIONS ?? ''): string[] {
  const given = [...execArgv, ...nodeOptions.split(/\s+/)].map((a) => a.split('=')[0]!.replace(/_/g, '-'));
  return NODE_FLAGS.filter((f) => !given.includes(f.split('=')[0]!));
}

/** A worker's execArgv: the primary's own, with any flag of NODE_FLAGS it lacks. */
export function workerExecArgv(execArgv: readonly string[] = process.execArgv): string[] {
  return [...execArgv, ...missingNodeFlags(execArgv, '')];
}
