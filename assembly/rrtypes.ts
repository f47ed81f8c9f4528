// RR type and rcode mnemonics for apps that read text (rule sets, block lists). Mirrors the host's
// table (host/core/dns/rr-types.ts) for the types apps name; anything else is written TYPEnnn
// (RFC 3597). An unknown mnemonic is -1, never type 0.

const NAMES: string[] = [
  "A", "NS", "CNAME", "SOA", "PTR", "HINFO", "MX", "TXT", "RP", "AFSDB", "SIG", "KEY", "AAAA", "LOC",
  "SRV", "NAPTR", "KX", "CERT", "DNAME", "OPT", "APL", "DS", "SSHFP", "IPSECKEY", "RRSIG", "NSEC",
  "DNSKEY", "DHCID", "NSEC3", "NSEC3PARAM", "TLSA", "SMIMEA", "HIP", "CDS", "CDNSKEY", "OPENPGPKEY",
  "CSYNC", "ZONEMD", "SVCB", "HTTPS", "SPF", "EUI48", "EUI64", "TKEY", "TSIG", "IXFR", "AXFR", "ANY",
  "URI", "CAA",
];
const NUMBERS: u16[] = [
  1, 2, 5, 6, 12, 13, 15, 16, 17, 18, 24, 25, 28, 29,
  33, 35, 36, 37, 39, 41, 42, 43, 44, 45, 46, 47,
  48, 49, 50, 51, 52, 53, 55, 59, 60, 61,
  62, 63, 64, 65, 99, 108, 109, 249, 250, 251, 252, 255,
  256, 257,
];

/** Type number of a mnemonic or TYPEnnn (case-insensitive); -1 when unknown. */
export function typeFromName(name: string): i32 {
  const upper = name.toUpperCase();
  for (let i = 0; i < NAMES.length; i++) if (NAMES[i] == upper) return <i32>NUMBERS[i];
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
  for (let i = 0; i < NUMBERS.length; i++) if (NUMBERS[i] == type) return NAMES[i];
  return "TYPE" + type.toString();
}

const RCODES: string[] = ["NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "YXDOMAIN", "YXRRSET", "NXRRSET", "NOTAUTH", "NOTZONE"];

/** Rcode number of a mnemonic (case-insensitive); -1 when unknown. */
export function rcodeFromName(name: string): i32 {
  const upper = name.toUpperCase();
  for (let i = 0; i < RCODES.length; i++) if (RCODES[i] == upper) return i;
  return -1;
}
