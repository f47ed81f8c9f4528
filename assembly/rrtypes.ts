// RR type and rcode mnemonics for apps that read text (rule sets, block lists). The tables are
// the host's (host/core/dns/rr-types.ts), generated into rrtypes.generated.ts at build time;
// anything else is written TYPEnnn (RFC 3597). An unknown mnemonic is -1, never type 0.

import { RCODE_NAMES, RCODE_NUMBERS, RRTYPE_NAMES, RRTYPE_NUMBERS } from "./rrtypes.generated";

/** Type number of a mnemonic or TYPEnnn (case-insensitive); -1 when unknown. */
export function typeFromName(name: string): i32 {
  const upper = name.toUpperCase();
  for (let i = 0; i < RRTYPE_NAMES.length; i++) if (RRTYPE_NAMES[i] == upper) return <i32>RRTYPE_NUMBERS[i];
  if (upper.startsWith("TYPE") && upper.length > 4 && upper.length <= 9) {
    let n = 0;
    for (let i = 4; i < upper.length; i++) {
      const c = upper.charCodeAt(i);
      if (c < 0x30 || c > 0x39) return -1;
      n = n * 10 + (c - 0x30);
    }
    return n <= 0xffff ? n : -1;
  }
  return -1;
}

export function typeToName(type: u16): string {
  for (let i = 0; i < RRTYPE_NUMBERS.length; i++) if (RRTYPE_NUMBERS[i] == type) return RRTYPE_NAMES[i];
  return "TYPE" + type.toString();
}

/** Number of a header rcode mnemonic (case-insensitive); -1 when unknown. */
export function rcodeFromName(name: string): i32 {
  const upper = name.toUpperCase();
  for (let i = 0; i < RCODE_NAMES.length; i++) if (RCODE_NAMES[i] == upper) return <i32>RCODE_NUMBERS[i];
  return -1;
}
