// static_zone: serves a verified local copy of a zone, the root zone above all (RFC 8806), in
// the resolve phase. It answers what the zone is authoritative for (apex data, DS at
// delegations, NODATA and NXDOMAIN with their NSEC proofs and signatures when the client set
// DO) and passes everything else (names under existing delegations) to the next app. It passes
// too when the request carries the tag that switches it off, or when its copy's signatures have
// expired; the host takes the copy away at SOA expire or the operator's maximum age.

import { Config, LoadKind, Phase, Request, Verdict, loadError, request, takeInput, count, now } from "../../assembly/sdk";
import { ResponseWriter, SECTION_ANSWER, SECTION_AUTHORITY, SECTION_ADDITIONAL, FLAG_AA, FLAG_AD, RCODE_NXDOMAIN, CLASS_IN, TYPE_A, TYPE_AAAA, TYPE_DS, TYPE_NS, TYPE_NSEC, TYPE_RRSIG, TYPE_SOA, TYPE_ANY, TYPE_CNAME } from "../../assembly/message";
import { CTX_FLAG_RD } from "../../assembly/context";
import { Image, Found, canonicalKey, NO_NAME, NODE_CUT, NODE_BELOW_CUT, NODE_BELOW_DNAME, NODE_WILDCARD, DNSSEC_VERIFIED } from "./image";

export { abi_version, input, gc } from "../../assembly/sdk";

let image: Image | null = null;
let disableTag = "rec_disable_static";
let referrals = false;
// The host iterates (resolver.mode = "recursive"): referral mode is on, for its iterative queries.
let recursive = false;

export function on_load(kind: i32, len: i32): i32 {
  const data = takeInput(len);
  if (kind == LoadKind.CONFIG) {
    const cfg = Config.parse(data);
    recursive = false;
    for (let i = 0; i < cfg.keys.length; i++) {
      const k = cfg.keys[i];
      if (k == "host.mode") recursive = cfg.values[i] == "recursive";
      if (k.startsWith("host.")) continue;
      if (k == "disable_tag") disableTag = cfg.values[i];
      else if (k == "referrals") referrals = cfg.values[i] == "true";
      else return loadError("unknown config key \"" + k + "\"");
    }
    return 0;
  }
  const next = new Image(data);
  const problem = next.validate();
  if (problem.length > 0) return loadError(problem);
  if (next.klass != 1) return loadError("static_zone serves class IN zones only");
  image = next;
  count("images_loaded");
  return 0;
}

const keyBuf = new Uint8Array(512);
const found = new Found();

function lookup(img: Image, name: Uint8Array): void {
  const n = canonicalKey(name, keyBuf);
  img.find(keyBuf.subarray(0, n), found);
}

/**
 * Seconds until the copy's earliest signature expires: no TTL we hand out may outlive it, or
 * caches downstream would keep signatures past their expiry (RFC 4035 §5.3.3).
 */
let ttlCeiling: u32 = 0xffffffff;

@inline
function capped(ttl: u32): u32 {
  return ttl < ttlCeiling ? ttl : ttlCeiling;
}

/** Appends the records (and, with DO, the signatures) of RRset `s` owned by name `k`. */
function addRrset(w: ResponseWriter, img: Image, section: i32, k: u32, s: u32, dnssec: bool, ttlOverride: u32 = 0): void {
  const owner = img.name(k);
  const type = img.rrsetType(s);
  const ttl = capped(ttlOverride > 0 ? ttlOverride : img.rrsetTtl(s));
  let p = img.rdataOff + img.rrsetRdata(s);
  const rr = img.rrsetRrCount(s);
  for (let r: u32 = 0; r < rr; r++) {
    const len = img.u16be(p);
    w.add(section, owner, type, CLASS_IN, ttl, img.bytes.subarray(<i32>(p + 2), <i32>(p + 2 + len)));
    p += 2 + len;
  }
  if (!dnssec) return;
  const sigs = img.rrsetSigCount(s);
  const sigTtl = capped(ttlOverride > 0 ? ttlOverride : img.rrsetSigTtl(s));
  for (let r: u32 = 0; r < sigs; r++) {
    const len = img.u16be(p);
    w.add(section, owner, TYPE_RRSIG, CLASS_IN, sigTtl, img.bytes.subarray(<i32>(p + 2), <i32>(p + 2 + len)));
    p += 2 + len;
  }
}

/** SOA of the apex for a negative answer, with the RFC 2308 TTL min(SOA TTL, MINIMUM). */
function addSoa(w: ResponseWriter, img: Image, dnssec: bool): void {
  const s = img.findRrset(img.apex, TYPE_SOA);
  if (s < 0) return;
  const ttl = img.rrsetTtl(<u32>s);
  addRrset(w, img, SECTION_AUTHORITY, img.apex, <u32>s, dnssec, img.soaMinimum < ttl ? img.soaMinimum : ttl);
}

/** The NSEC owned by name `k` (with its signatures). */
function addNsec(w: ResponseWriter, img: Image, k: u32, dnssec: bool): bool {
  if (k == NO_NAME) return false;
  const s = img.findRrset(k, TYPE_NSEC);
  if (s < 0) return false;
  addRrset(w, img, SECTION_AUTHORITY, k, <u32>s, dnssec);
  return true;
}

function begin(req: Request, img: Image): ResponseWriter {
  const w = new ResponseWriter(req.message, 2048);
  w.setFlag(FLAG_AA);
  // The copy was verified when it was loaded; the host keeps AD only for clients that ask.
  if (img.dnssecStatus == DNSSEC_VERIFIED) w.setFlag(FLAG_AD);
  return w;
}

/** NODATA at an existing name `k`: SOA, and with DO the NSEC of the name proving the type absent. */
function nodata(req: Request, img: Image, k: u32): Verdict {
  const dnssec = req.ctx.dnssecOk;
  // NSEC3 proofs are not built here: a validating client gets its answer from the upstream.
  if (dnssec && img.nsec3) return Verdict.CONTINUE;
  const w = begin(req, img);
  addSoa(w, img, dnssec);
  if (dnssec) addNsec(w, img, img.findRrset(k, TYPE_NSEC) >= 0 ? k : img.nameNsec(k), true);
  count("answered");
  return req.respond(w.finish());
}

/**
 * Under a delegation: a referral to it in referral mode (switched on, or the host iterates), for
 * an iterative query (RD clear) as a root server gives one; a client that wants recursion
 * (RD set) is passed on to be resolved.
 */
function delegated(req: Request, img: Image, cut: u32): Verdict {
  if (!(referrals || recursive) || (req.ctx.flags & CTX_FLAG_RD) != 0) return Verdict.CONTINUE;
  return referral(req, img, cut);
}

/** A referral to the delegation at `cut`. */
function referral(req: Request, img: Image, cut: u32): Verdict {
  const dnssec = req.ctx.dnssecOk;
  const w = new ResponseWriter(req.message, 2048);
  const ns = img.findRrset(cut, TYPE_NS);
  if (ns < 0) return Verdict.CONTINUE;
  addRrset(w, img, SECTION_AUTHORITY, cut, <u32>ns, false);
  if (dnssec) {
    const ds = img.findRrset(cut, TYPE_DS);
    if (ds >= 0) addRrset(w, img, SECTION_AUTHORITY, cut, <u32>ds, true);
    else addNsec(w, img, cut, true);
  }
  // Glue: addresses of the NS targets that the image holds.
  let p = img.rdataOff + img.rrsetRdata(<u32>ns);
  for (let r: u32 = 0; r < img.rrsetRrCount(<u32>ns); r++) {
    const len = img.u16be(p);
    const target = img.bytes.slice(<i32>(p + 2), <i32>(p + 2 + len));
    lookup(img, target);
    if (found.exact) {
      const k = <u32>found.index;
      const a = img.findRrset(k, TYPE_A);
      if (a >= 0) addRrset(w, img, SECTION_ADDITIONAL, k, <u32>a, false);
      const aaaa = img.findRrset(k, TYPE_AAAA);
      if (aaaa >= 0) addRrset(w, img, SECTION_ADDITIONAL, k, <u32>aaaa, false);
    }
    p += 2 + len;
  }
  count("referrals");
  return req.respond(w.finish());
}

function wildcardOf(ce: Uint8Array): Uint8Array {
  const out = new Uint8Array(ce.length + 2);
  out[0] = 1;
  out[1] = 0x2a;
  out.set(ce, 2);
  return out;
}

/** No copy, nothing to answer: the host need not call the app at all. */
export function phases_wanted(): i32 {
  return image == null ? 0 : 1 << Phase.RESOLVE;
}

export function on_query(phase: i32, ctxLen: i32, msgLen: i32): i32 {
  const img = image;
  if (img == null) return Verdict.CONTINUE;
  const req = request(phase, ctxLen, msgLen);
  const ctx = req.ctx;
  if (ctx.hasTag(disableTag)) {
    count("passed_tag");
    return Verdict.CONTINUE;
  }
  if (img.earliestRrsigExpiration > 0) {
    const left = img.earliestRrsigExpiration - now() / 1000;
    if (left <= 0) {
      // Never serve a copy whose signatures have expired (the 2023 outage): let it be resolved.
      count("passed_expired");
      return Verdict.CONTINUE;
    }
    ttlCeiling = left < 4294967295.0 ? <u32>left : 0xffffffff;
  } else {
    ttlCeiling = 0xffffffff;
  }
  // ANY is answered upstream (RFC 8482); signatures are only ever served with their RRsets.
  if (ctx.qclass != CLASS_IN || ctx.qtype == TYPE_ANY || ctx.qtype == TYPE_RRSIG) return Verdict.CONTINUE;
  const qname = ctx.qname();
  const dnssec = ctx.dnssecOk;

  lookup(img, qname);
  if (found.exact) {
    const k = <u32>found.index;
    const flags = img.nameFlags(k);
    if ((flags & (NODE_BELOW_CUT | NODE_BELOW_DNAME)) != 0) return Verdict.CONTINUE;
    if ((flags & NODE_CUT) != 0) {
      // At a delegation the parent is authoritative only for DS (and the NSEC that denies it).
      if (ctx.qtype != TYPE_DS) return delegated(req, img, k);
      const ds = img.findRrset(k, TYPE_DS);
      if (ds < 0) return nodata(req, img, k);
      const w = begin(req, img);
      addRrset(w, img, SECTION_ANSWER, k, <u32>ds, dnssec);
      count("answered");
      return req.respond(w.finish());
    }
    // DS at a zone's own apex belongs to its parent (the root has none, so it is NODATA there).
    if (ctx.qtype == TYPE_DS && k == img.apex && img.originLen > 1) return Verdict.CONTINUE;
    let s = img.findRrset(k, ctx.qtype);
    if (s < 0 && ctx.qtype != TYPE_CNAME) s = img.findRrset(k, TYPE_CNAME);
    if (s < 0) return nodata(req, img, k);
    const w = begin(req, img);
    addRrset(w, img, SECTION_ANSWER, k, <u32>s, dnssec);
    count("answered");
    return req.respond(w.finish());
  }

  // Not in the zone: find the closest encloser, walking up the labels.
  let off = 0;
  let ce: i32 = -1;
  let ceName: Uint8Array = qname;
  while (off < qname.length) {
    const l = <i32>qname[off];
    if (l == 0) break;
    off += l + 1;
    const ancestor = qname.subarray(off);
    lookup(img, ancestor);
    if (found.exact) {
      ce = found.index;
      ceName = ancestor;
      break;
    }
  }
  if (ce < 0) return Verdict.CONTINUE; // not under this zone at all
  const ceFlags = img.nameFlags(<u32>ce);
  if ((ceFlags & NODE_CUT) != 0) return delegated(req, img, <u32>ce);
  if ((ceFlags & (NODE_BELOW_CUT | NODE_BELOW_DNAME)) != 0) return Verdict.CONTINUE;
  // A wildcard at the closest encloser would have to be expanded; leave that to the upstream.
  const wildcard = wildcardOf(ceName);
  lookup(img, wildcard);
  if (found.exact && (img.nameFlags(<u32>found.index) & NODE_WILDCARD) != 0) return Verdict.CONTINUE;
  const wildcardNsec = found.index >= 0 ? img.nameNsec(<u32>found.index) : NO_NAME;

  if (dnssec && img.nsec3) return Verdict.CONTINUE;
  const w = begin(req, img);
  w.setRcode(RCODE_NXDOMAIN);
  addSoa(w, img, dnssec);
  if (dnssec) {
    // RFC 4035 §3.1.3.2: an NSEC covering the name, and one covering the wildcard.
    lookup(img, qname);
    const nameNsec = found.index >= 0 ? img.nameNsec(<u32>found.index) : NO_NAME;
    addNsec(w, img, nameNsec, true);
    if (wildcardNsec != nameNsec) addNsec(w, img, wildcardNsec, true);
  }
  count("answered");
  return req.respond(w.finish());
}
