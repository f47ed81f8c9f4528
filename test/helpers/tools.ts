/**
 * External tools the tests drive (dig, kdig, nsd, ldns-verify-zone, ...). On a developer's
 * machine a missing tool skips its test with a printed reason; under CI (`CI=true`) a missing
 * tool is a failure, never a silent skip.
 */

import { execFileSync } from 'node:child_process';

const found = new Map<string, boolean>();

function onPath(name: string): boolean {
  let ok = found.get(name);
  if (ok === undefined) {
    try {
      execFileSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' });
      ok = true;
    } catch {
      ok = false;
    }
    found.set(name, ok);
  }
  return ok;
}

/** True when `name` is on PATH. When it is not: throws under CI, else prints why and returns false. */
export function needTool(name: string): boolean {
  if (onPath(name)) return true;
  if (process.env.CI === 'true') {
    throw new Error(`required tool "${name}" is not installed (CI=true: a missing tool fails the run; .ci/run installs it)`);
  }
  console.warn(`skipping: "${name}" is not installed (install it to run this test)`);
  return false;
}

/** needTool for several tools; all must be present. */
export function needTools(...names: string[]): boolean {
  return names.map(needTool).every(Boolean);
}
