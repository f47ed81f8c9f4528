/**
 * The name-tree questions validation asks of lower-case wire names: is one at or below
 * another, what is the parent, the common ancestor, the names from a zone down to a target.
 * Comparisons are case-insensitive; callers pass names lower-cased where they key maps.
 */

import { countLabels, nameEquals } from '../dns/name.js';

/** The parent of a wire name (the root is its own parent). */
export function parentOf(name: Uint8Array): Uint8Array {
  return name.length <= 1 ? name : name.subarray(name[0]! + 1);
}

/** True when `name` is `ancestor` or below it. */
export function isAtOrBelow(name: Uint8Array, ancestor: Uint8Array): boolean {
  const extra = countLabels(name) - countLabels(ancestor);
  if (extra < 0) return false;
  let n = name;
  for (let i = 0; i < extra; i++) n = parentOf(n);
  return nameEquals(n, ancestor);
}

/** The last `labels` labels of `name`. */
export function suffixOf(name: Uint8Array, labels: number): Uint8Array {
  let n = name;
  for (let drop = countLabels(name) - labels; drop > 0; drop--) n = parentOf(n);
  return n;
}

/** The deepest name both are at or below. */
export function commonAncestor(a: Uint8Array, b: Uint8Array): Uint8Array {
  let x = a;
  let y = b;
  let lx = countLabels(x);
  let ly = countLabels(y);
  while (lx > ly) {
    x = parentOf(x);
    lx--;
  }
  while (ly > lx) {
    y = parentOf(y);
    ly--;
  }
  while (!nameEquals(x, y)) {
    x = parentOf(x);
    y = parentOf(y);
  }
  return x;
}

/** `*.` + name. */
export function wildcardOf(name: Uint8Array): Uint8Array {
  const out = new Uint8Array(name.length + 2);
  out[0] = 1;
  out[1] = 0x2a;
  out.set(name, 2);
  return out;
}

/** True when the first label is `*`. */
export function isWildcard(name: Uint8Array): boolean {
  return name[0] === 1 && name[1] === 0x2a;
}

/** The names from `top` (included) down to `target` (included); `target` must be at or below `top`. */
export function pathDown(top: Uint8Array, target: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  let n = target;
  const stop = countLabels(top);
  for (let l = countLabels(target); l >= stop; l--) {
    out.push(n);
    n = parentOf(n);
  }
  return out.reverse();
}

/** A map key for a lower-case wire name. */
export function nameKey(name: Uint8Array): string {
  let s = '';
  for (let i = 0; i < name.length; i++) s += String.fromCharCode(name[i]!);
  return s;
}
