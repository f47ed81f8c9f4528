/**
 * The DNSSEC validator (RFC 4033–4035, RFC 5155, RFC 6840): one upstream answer in, one
 * verdict out. Runtime-neutral (WebCrypto), and the same code for forwarding and recursive
 * mode: only the KeyFetcher differs.
 *
 * How to call it
 *
 *   const anchors = await parseTrustAnchors(fileBytes, { file });     // zone/trust-anchor.ts
 *   const validator = new Validator({ anchors, fetcher });            // once per node
 *   const result = await validator.validate(responseBytes, { deadline, server });
 *
 * `fetcher` (chain.ts `KeyFetcher`) answers DS and DNSKEY queries, sent with DO=1 and CD=1:
 * the upstream group in forwarding mode, the iterator in recursive mode; `attempt` 0, 1, 2…
 * should go to different servers when it can. The response handed to `validate` must come
 * from a query with DO=1 (and CD=1, so the upstream's own validation does not hide the
 * records); it is read, never changed. Never trust the upstream's AD bit: this is what decides.
 *
 * `result.state`:
 *   secure         every RRset of the answer (CNAME/DNAME chain included) and every proof
 *                  validated up to a trust anchor: AD may be set (if the client asked, DO or AD),
 *                  and the answer may be cached for at most `result.ttl` seconds.
 *   insecure       provably unsigned (an unsigned delegation, Opt-Out, only algorithms or DS
 *                  digests this validator lacks, NSEC3 iterations above the limit, or a
 *                  negative trust anchor): serve it, without AD.
 *   bogus          it should have validated and did not: SERVFAIL with `result.ede` (RFC 8914:
 *                  6, 7, 8, 9, 10, 12; the text names the name, why, and the server), after
 *                  trying another server; then remember it for `result.ttl` seconds (BogusCache).
 *   indeterminate  no trust anchor covers the name (or the class is not IN): serve, without AD.
 * `result.zone` is the zone (signer) the verdict concerns, `result.reason` a short token for
 * metrics labels, `result.work` what the validation cost. A validation never throws for bad
 * input: a malformed response is bogus.
 *
 * Work is bounded (budget.ts): past a limit the answer is bogus with reason `budget`, counted
 * in `edge_dnssec_budget_exceeded_total{limit}`. Keys go into `validator.keyCache`; negative
 * trust anchors are `validator.negativeAnchors` (set/list/expire at run time). The answer-side
 * helpers (answer.ts: `stripDnssec` for DO=0 clients, `setAuthenticData`) and `edeOption` are
 * separate: the resolver decides what the client gets.
 */

import { RRType, typeToName } from '../dns/rr-types.js';
import type { MetricsSink } from '../metrics.js';
import { webCryptoVerifier, type SignatureVerifier } from '../zone/dnssec-keys.js';
import { parseRrsig } from '../zone/dnssec-rrsig.js';
import { lowerName, nameEquals, nameToText, wireNameLength } from '../dns/name.js';
import type { TrustAnchor } from '../zone/trust-anchor.js';
import { DEFAULT_BOGUS_TTL } from './bogus-cache.js';
import { BudgetExceeded, DEFAULT_LIMITS, type BudgetLimit, type ResponseWork, type ValidationLimits } from './budget.js';
import { ChainOfTrust, type ChainResult, type KeyFetcher, type SecureZone } from './chain.js';
import { proveDenial } from './denial.js';
import { EDE, type Ede } from './ede.js';
import { KeyCache } from './key-cache.js';
import { VerifiedSignatures } from './verified-cache.js';
import { parseResponse, type Response, type RRset } from './message.js';
import { isAtOrBelow, nameKey } from './names.js';
import { NegativeTrustAnchors } from './negative-anchors.js';
import { checkProof, checkRRset, Run, type CheckedProof } from './rrset-check.js';

export type ValidationState = 'secure' | 'insecure' | 'bogus' | 'indeterminate';

export interface ValidationResult {
  state: ValidationState;
  /** The zone (signer) the verdict concerns, presentation form; null when none is known. */
  zone: string | null;
  /** Seconds: secure, the most the answer may be cached; bogus, how long to remember it; else null. */
  ttl: number | null;
  /** For bogus answers always; for some insecure ones (1, 2, 27): what to put in the EDE option. */
  ede?: Ede;
  /**
   * A short token: `secure`; insecure `unsigned-delegation`, `opt-out`, `unsupported-algorithm`,
   * `unsupported-digest`, `nsec3-iterations`, `negative-trust-anchor`, `not-validated`;
   * bogus `signature-expired`, `signature-not-yet-valid`, `bad-signature`, `dnskey-missing`,
   * `rrsigs-missing`, `nsec-missing`, `bad-denial`, `unsupported-signature`, `key-fetch-failed`,
   * `budget`, `malformed`; indeterminate `no-anchor`.
   */
  reason: string;
  /** In words: which name and why (the EDE text when there is one). */
  text: string;
  work: { signatures: number; hashes: number; fetches: number };
}

export interface ValidatorOptions {
  /** Trust anchors, one or more zones (`parseTrustAnchors`). */
  anchors: readonly TrustAnchor[];
  /** Default key source; `validate` may be given another per answer (none: key fetches fail). */
  fetcher?: KeyFetcher;
  /** Default WebCrypto. */
  verifier?: SignatureVerifier;
  /** Shared across answers; default a new one (10,000 entries). */
  keyCache?: KeyCache;
  /** Shared across answers; default a new one (10,000 signatures). */
  verifiedSignatures?: VerifiedSignatures;
  negativeAnchors?: NegativeTrustAnchors;
  limits?: Partial<ValidationLimits>;
  /** Seconds a failed key set is kept, and the `ttl` of a bogus result (default 60). */
  bogusTtl?: number;
  /** Tries per DS or DNSKEY fetch, each may go to another server (default 3). */
  keyAttempts?: number;
  /** Milliseconds before giving up when the caller gives no deadline (default 5000). */
  timeout?: number;
  metrics?: MetricsSink;
  /** The clock signatures are checked against, ms since the epoch (default Date.now). */
  now?: () => number;
}

export interface ValidateOptions {
  /** Ms since the epoch; key fetches stop then. */
  deadline?: number;
  /** Who sent the response, for the EDE text. */
  server?: string;
  /**
   * Where this answer's DS and DNSKEY queries go, when not the validator's own `fetcher`: the
   * resolver passes its route's (the upstream group the answer came from), so keys come
   * through the same servers. Keys learnt are shared in `keyCache` whichever fetcher found them.
   */
  fetcher?: KeyFetcher;
}

/** An internal verdict, before it becomes a ValidationResult. */
type Verdict =
  | { state: 'secure'; zone: Uint8Array; ttl: number }
  | { state: 'insecure' | 'bogus' | 'indeterminate'; zone: Uint8Array | null; reason: string; text: string; ede?: Ede };

const t = nameToText;

const NO_FETCHER: KeyFetcher = { fetch: async () => null };

export class Validator {
  /** The trust anchors it starts from. */
  readonly anchors: readonly TrustAnchor[];
  readonly keyCache: KeyCache;
  /** Signatures verified before (verified-cache.ts): the same RRSIG over the same data is checked once. */
  readonly verified: VerifiedSignatures;
  readonly negativeAnchors: NegativeTrustAnchors;
  readonly limits: ValidationLimits;
  private readonly chain: ChainOfTrust;
  private readonly verifier: SignatureVerifier;
  private readonly clock: () => number;
  private readonly bogusTtl: number;
  private readonly timeout: number;
  private readonly counted: {
    validations: (state: ValidationState) => void;
    budget: (limit: BudgetLimit) => void;
  };

  constructor(options: ValidatorOptions) {
    this.anchors = options.anchors;
    this.keyCache = options.keyCache ?? new KeyCache();
    this.verified = options.verifiedSignatures ?? new VerifiedSignatures();
    this.negativeAnchors = options.negativeAnchors ?? new NegativeTrustAnchors();
    this.limits = { ...DEFAULT_LIMITS, ...options.limits };
    this.verifier = options.verifier ?? webCryptoVerifier;
    this.clock = options.now ?? Date.now;
    this.bogusTtl = options.bogusTtl ?? DEFAULT_BOGUS_TTL;
    this.timeout = options.timeout ?? 5000;
    const m = options.metrics;
    const validations = m?.counter('edge_dnssec_validations_total', 'Answers validated, by verdict', ['state']);
    const budget = m?.counter('edge_dnssec_budget_exceeded_total', 'Validations stopped by the work budget (KeyTrap, NSEC3 hashing), by limit', ['limit']);
    const fetches = m?.counter('edge_dnssec_key_fetches_total', 'DS and DNSKEY fetches for the chain of trust, by type and outcome', ['type', 'outcome']);
    this.counted = {
      validations: (state) => validations?.inc({ state }),
      budget: (limit) => budget?.inc({ limit }),
    };
    this.chain = new ChainOfTrust({
      anchors: options.anchors,
      fetcher: options.fetcher ?? NO_FETCHER,
      cache: this.keyCache,
      negativeAnchors: this.negativeAnchors,
      bogusTtl: this.bogusTtl,
      attempts: Math.max(1, options.keyAttempts ?? 3),
      onFetch: (type, outcome) => fetches?.inc({ type, outcome }),
    });
  }

  /** Validates one response (wire bytes). See the header for what the result means. */
  async validate(response: Uint8Array, options: ValidateOptions = {}): Promise<ValidationResult> {
    const now = this.clock();
    const run = new Run(this.verifier, this.limits, now, options.deadline ?? Date.now() + this.timeout, options.fetcher, this.verified);
    const from = options.server ? ` from ${options.server}` : '';
    let verdict: Verdict;
    let question = 'the response';
    try {
      const resp = parseResponse(response);
      if (resp.qname) question = `${t(resp.qname)} ${typeToName(resp.qtype)}`;
      verdict = await this.verdict(resp, run, from);
    } catch (err) {
      const budget = err instanceof BudgetExceeded;
      if (budget) this.counted.budget(err.limit);
      const text = budget ? `${question}: validation work limit reached: ${err.message}${from}` : `${question}${from} cannot be validated: ${(err as Error).message}`;
      verdict = { state: 'bogus', zone: null, reason: budget ? 'budget' : 'malformed', text, ede: { code: EDE.DNSSEC_BOGUS, text } };
    }
    this.counted.validations(verdict.state);
    const work = { signatures: run.budget.signatures, hashes: run.budget.hashes, fetches: run.budget.fetches };
    if (verdict.state === 'secure') return { state: 'secure', zone: t(verdict.zone), ttl: verdict.ttl, reason: 'secure', text: `validated by ${t(verdict.zone)}`, work };
    return {
      state: verdict.state,
      zone: verdict.zone ? t(verdict.zone) : null,
      ttl: verdict.state === 'bogus' ? this.bogusTtl : null,
      ...(verdict.ede ? { ede: verdict.ede } : {}),
      reason: verdict.reason,
      text: verdict.text,
      work,
    };
  }

  private async verdict(resp: Response, run: Run, from: string): Promise<Verdict> {
    if (!resp.qname) return { state: 'bogus', zone: null, reason: 'malformed', text: `a response without a question${from}`, ede: { code: EDE.DNSSEC_BOGUS, text: `a response without a question${from}` } };
    const qname = lowerName(resp.qname);
    const qtype = resp.qtype;
    const not = (state: 'insecure' | 'indeterminate', reason: string, text: string): Verdict => ({ state, zone: null, reason, text });
    if (resp.qclass !== 1) return not('indeterminate', 'no-anchor', `class ${resp.qclass} is not validated`);
    if (resp.rcode !== 0 && resp.rcode !== 3) return not('insecure', 'not-validated', `RCODE ${resp.rcode} carries nothing to validate`);
    if (qtype === RRType.RRSIG) return not('insecure', 'not-validated', 'RRSIG answers carry no signatures of their own');
    const work = run.budget.response();
    const ctx: AnswerContext = { resp, run, work, from, proofs: new Map() };
    const parts: Verdict[] = [];
    let sname = qname;
    let answered = false;
    for (let step = 0; !answered; step++) {
      if (step > this.limits.chainLength) throw new BudgetExceeded('chain-length', `a CNAME/DNAME chain longer than ${this.limits.chainLength}`);
      const here = resp.answer.filter((s) => nameEquals(s.lower, sname));
      const data = here.filter((s) => s.type === qtype || qtype === RRType.ANY);
      if (data.length > 0) {
        for (const s of data) parts.push(await this.positive(s, ctx));
        answered = true;
        break;
      }
      // RFC 6672: a DNAME above the name, and the CNAME synthesised from it, unsigned
      const dname = resp.answer.find((s) => s.type === RRType.DNAME && isAtOrBelow(sname, s.lower) && !nameEquals(sname, s.lower));
      const cname = here.find((s) => s.type === RRType.CNAME);
      if (dname && dname.rdatas.length === 1) {
        parts.push(await this.positive(dname, ctx));
        const target = substitute(sname, dname.lower, dname.rdatas[0]!);
        if (!target) return { state: 'bogus', zone: null, reason: 'bad-signature', text: `${t(sname)}: the DNAME substitution is too long`, ede: { code: EDE.DNSSEC_BOGUS, text: `${t(sname)}: the DNAME substitution is too long` } };
        if (cname && cname.sigs.length > 0) parts.push(await this.positive(cname, ctx));
        else if (cname && !nameEquals(cnameTarget(cname) ?? new Uint8Array(0), target)) {
          const text = `${t(sname)}: the CNAME does not follow from the DNAME at ${t(dname.owner)}${from}`;
          return { state: 'bogus', zone: null, reason: 'bad-signature', text, ede: { code: EDE.DNSSEC_BOGUS, text } };
        }
        sname = target;
        continue;
      }
      if (cname) {
        parts.push(await this.positive(cname, ctx));
        const target = cnameTarget(cname);
        if (!target) break;
        sname = target;
        continue;
      }
      break;
    }
    // An answer that stops at a CNAME target, with nothing in the authority section, is a
    // CNAME-only answer (an authoritative server's, for a target in another zone): the chain
    // is what it claims, and the target is the next query's to validate.
    const cnameOnly =
      !answered && resp.rcode === 0 && parts.length > 0 && !resp.authority.some((s) => s.type === RRType.SOA || s.type === RRType.NSEC || s.type === RRType.NSEC3);
    if (!answered && !cnameOnly) parts.push(await this.negative(sname, qtype, ctx));
    return combine(parts);
  }

  /** One answer RRset: validated by its signer's keys, and a wildcard expansion's proof. */
  private async positive(set: RRset, ctx: AnswerContext): Promise<Verdict> {
    const { run, work, from } = ctx;
    const nta = this.chain.negativeAnchorFor(set.lower, run);
    if (nta) return fromChain(nta);
    const signer = signerOf(set);
    if (!signer) {
      const zone = await this.chain.keysFor(set.lower, run);
      if (zone.kind !== 'secure') return fromChain(zone);
      const text = `${t(set.owner)} ${typeToName(set.type)}: no RRSIG, but ${t(zone.zone)} is signed${from}`;
      return { state: 'bogus', zone: zone.zone, reason: 'rrsigs-missing', text, ede: { code: EDE.RRSIGS_MISSING, text } };
    }
    const zone = await this.zoneOf(signer, run);
    if (zone.kind !== 'secure') return fromChain(zone);
    const check = await checkRRset(set, zone.zone, zone.ring, run, work);
    if (!check.ok) return { state: 'bogus', zone: zone.zone, reason: check.reason, text: `${check.text}${from}`, ede: { code: check.ede.code, text: `${check.text}${from}` } };
    if (!check.wildcard) return { state: 'secure', zone: zone.zone, ttl: check.ttl };
    // RFC 4035 §5.3.4: a wildcard answer needs proof that the name itself does not exist
    const proof = await this.proof(zone, ctx);
    const d = await proveDenial(
      { name: set.lower, type: set.type, mode: 'wildcard', closestEncloser: check.wildcard },
      proof.records,
      { hash: (n, p) => run.hash(n, p, work), maxIterations: run.limits.nsec3Iterations },
    );
    if (d.kind === 'wildcard') return { state: 'secure', zone: zone.zone, ttl: Math.min(check.ttl, proof.ttl) };
    return this.denialVerdict(d, proof, zone.zone, from);
  }

  /** NXDOMAIN or NODATA for `sname`: the zone's NSEC/NSEC3 proof (RFC 4035 §5.4, RFC 5155 §8). */
  private async negative(sname: Uint8Array, qtype: number, ctx: AnswerContext): Promise<Verdict> {
    const { resp, run, work, from } = ctx;
    const nta = this.chain.negativeAnchorFor(sname, run);
    if (nta) return fromChain(nta);
    const denials = resp.authority.filter((s) => s.type === RRType.NSEC || s.type === RRType.NSEC3);
    // the deepest zone that signed a denial record at or above the name (a chain through two
    // zones may carry proofs from both)
    const signer =
      denials
        .map(signerOf)
        .filter((s): s is Uint8Array => s !== null && isAtOrBelow(sname, s))
        .sort((a, b) => b.length - a.length)[0] ?? null;
    const kind = resp.rcode === 3 ? 'NXDOMAIN' : 'NODATA';
    if (!signer) {
      // nothing signed: fine below an unsigned delegation, missing in a signed zone
      const soa = resp.authority.find((s) => s.type === RRType.SOA && isAtOrBelow(sname, s.lower));
      const zone = await this.chain.keysFor(soa ? soa.lower : sname, run);
      if (zone.kind !== 'secure') return fromChain(zone);
      const text = `${t(sname)}: ${kind} from the signed zone ${t(zone.zone)} without an NSEC or NSEC3 proof${from}`;
      return { state: 'bogus', zone: zone.zone, reason: 'nsec-missing', text, ede: { code: EDE.NSEC_MISSING, text } };
    }
    const zone = await this.zoneOf(signer, run);
    if (zone.kind !== 'secure') return fromChain(zone);
    const soa = resp.authority.find((s) => s.type === RRType.SOA && nameEquals(s.lower, zone.zone) && s.sigs.length > 0);
    let ttl = Infinity;
    if (soa) {
      const c = await checkRRset(soa, zone.zone, zone.ring, run, work);
      if (!c.ok) return { state: 'bogus', zone: zone.zone, reason: c.reason, text: `${c.text}${from}`, ede: { code: c.ede.code, text: `${c.text}${from}` } };
      ttl = c.ttl;
    }
    const proof = await this.proof(zone, ctx);
    const d = await proveDenial(
      { name: sname, type: qtype, mode: resp.rcode === 3 ? 'nxdomain' : 'nodata' },
      proof.records,
      { hash: (n, p) => run.hash(n, p, work), maxIterations: run.limits.nsec3Iterations },
    );
    if (d.kind === 'nxdomain' || d.kind === 'nodata') return { state: 'secure', zone: zone.zone, ttl: Math.min(ttl, proof.ttl) };
    return this.denialVerdict(d, proof, zone.zone, from);
  }

  private denialVerdict(d: Awaited<ReturnType<typeof proveDenial>>, proof: CheckedProof, zone: Uint8Array, from: string): Verdict {
    if (d.kind === 'insecure') return { state: 'insecure', zone, reason: d.reason, text: d.text, ...(d.ede ? { ede: d.ede } : {}) };
    if (d.kind !== 'bogus') return { state: 'secure', zone, ttl: proof.ttl };
    // a denial record that failed its signature check says more than the proof it broke
    const f = proof.failure ?? d;
    const text = `${f.text}${from}`;
    return { state: 'bogus', zone, reason: f.reason, text, ede: { code: f.ede.code, text } };
  }

  /** The checked denial records `zone` signed in this response (once per zone). */
  private proof(zone: SecureZone, ctx: AnswerContext): Promise<CheckedProof> {
    const k = nameKey(zone.zone);
    let p = ctx.proofs.get(k);
    if (!p) {
      p = checkProof(ctx.resp.authority, zone.zone, zone.ring, ctx.run, ctx.work);
      ctx.proofs.set(k, p);
    }
    return p;
  }

  /** The keys of the zone whose apex is `signer`; a signer that is no zone apex is bogus. */
  private async zoneOf(signer: Uint8Array, run: Run): Promise<ChainResult> {
    const zone = await this.chain.keysFor(signer, run);
    if (zone.kind !== 'secure' || nameEquals(zone.zone, signer)) return zone;
    const why = `the signer ${t(signer)} is not a zone: no DS for it in ${t(zone.zone)}`;
    return { kind: 'bogus', zone: signer, reason: 'dnskey-missing', why, ede: { code: EDE.DNSKEY_MISSING, text: why }, expires: 0 };
  }
}

interface AnswerContext {
  resp: Response;
  run: Run;
  work: ResponseWork;
  from: string;
  proofs: Map<string, Promise<CheckedProof>>;
}

/** The first verdict that is not secure decides (bogus over insecure over indeterminate); else secure for the shortest TTL. */
function combine(parts: Verdict[]): Verdict {
  for (const state of ['bogus', 'insecure', 'indeterminate'] as const) {
    const v = parts.find((p) => p.state === state);
    if (v) return v;
  }
  let ttl = Infinity;
  for (const p of parts) if (p.state === 'secure') ttl = Math.min(ttl, p.ttl);
  const last = parts[parts.length - 1] as Extract<Verdict, { state: 'secure' }>;
  return { state: 'secure', zone: last.zone, ttl: ttl === Infinity ? 0 : ttl };
}

function fromChain(c: Exclude<ChainResult, SecureZone>): Verdict {
  if (c.kind === 'indeterminate') return { state: 'indeterminate', zone: null, reason: 'no-anchor', text: c.why };
  if (c.kind === 'insecure') return { state: 'insecure', zone: c.zone, reason: c.reason, text: c.why, ...(c.ede ? { ede: c.ede } : {}) };
  return { state: 'bogus', zone: c.zone, reason: c.reason, text: c.why, ede: c.ede };
}

/** The signer of an RRset's first well-formed RRSIG that may sign it (at or above the owner). */
function signerOf(set: RRset): Uint8Array | null {
  for (const rd of set.sigs) {
    const s = parseRrsig(rd);
    if (typeof s !== 'string' && s.typeCovered === set.type && isAtOrBelow(set.lower, s.signer)) return lowerName(s.signer.slice());
  }
  return null;
}

function cnameTarget(set: RRset): Uint8Array | null {
  const rd = set.rdatas[0];
  if (!rd) return null;
  const n = wireNameLength(rd, 0, rd.length);
  return n === rd.length ? lowerName(rd.slice()) : null;
}

/** RFC 6672 §2.2: `name` with its `owner` suffix replaced by the DNAME target; null when over 255 octets. */
function substitute(name: Uint8Array, owner: Uint8Array, rdata: Uint8Array): Uint8Array | null {
  const n = wireNameLength(rdata, 0, rdata.length);
  if (n !== rdata.length) return null;
  const prefix = name.length - owner.length;
  if (prefix + rdata.length > 255) return null;
  const out = new Uint8Array(prefix + rdata.length);
  out.set(name.subarray(0, prefix));
  out.set(lowerName(rdata.slice()), prefix);
  return out;
}
