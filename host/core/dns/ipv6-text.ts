/**
 * IPv6 addresses in the text form RFC 5952 §4 makes canonical, so one address always prints
 * one way: lower-case hex without leading zeros; the longest run of two or more zero groups
 * (the first, on a tie) as `::`, a single zero group never; an IPv4-mapped address
 * (::ffff:0:0/96) with its IPv4 tail in dotted decimal (§5).
 */

/** The 16 bytes at `off` of `b` as RFC 5952 text. */
export function ipv6Text(b: ArrayLike<number>, off = 0): string {
  const groups: number[] = [];
  for (let i = 0; i < 8; i++) groups.push((b[off + 2 * i]! << 8) | b[off + 2 * i + 1]!);
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return `::ffff:${b[off + 12]}.${b[off + 13]}.${b[off + 14]}.${b[off + 15]}`;
  }
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const text = (gs: number[]) => gs.map((g) => g.toString(16)).join(':');
  if (best < 0) return text(groups);
  return `${text(groups.slice(0, best))}::${text(groups.slice(best + bestLen))}`;
}
