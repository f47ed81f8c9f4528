/**
 * `edge-resolver zone check|compile|inspect`: the operator's view of a zone copy before it is
 * activated. Exit 0 only when the copy is usable; otherwise the reason, and a non-zero code
 * (1: the zone or image is refused, 2: the command line is wrong).
 */

import { availableParallelism } from 'node:os';
import { basename } from 'node:path';
import { parseArgs } from 'node:util';
import {
  checkZone,
  compileImage,
  parseTrustAnchor,
  readImage,
  webCryptoVerifier,
  ZoneError,
  type DnssecPolicy,
  type LoadOptions,
  type TrustAnchor,
  type ZoneFormat,
  type ZonemdPolicy,
  type ZoneReport,
} from '../../../core/zone/index.js';
import { createWorkerVerifier, type ClosableVerifier } from './zone-crypto.js';
import { writeFileAtomically } from '../files.js';
import { fileChunks, includeResolverFor, readWhole } from './zone-files.js';

export interface CommandOutput {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
}

const USAGE = `usage:
  zone check FILE [--trust-anchor FILE] [--now ISO-8601] [--json]
                  [--zonemd require|verify-if-present|ignore] [--dnssec require|verify-if-present|ignore]
                  [--format text|wire|axfr] [--origin NAME] [--max-bytes N] [--max-records N] [--max-age SECONDS]
                  [--verifier worker|webcrypto]
  zone compile FILE -o IMAGE [same options as check] [--force]
  zone inspect IMAGE [--json] [--now ISO-8601]
FILE may be gzip-compressed (.gz). Exit status: 0 usable, 1 refused, 2 usage error.
`;

const POLICIES = ['require', 'verify-if-present', 'ignore'] as const;

class UsageError extends Error {}

function policy(value: string | undefined, flag: string): (typeof POLICIES)[number] | undefined {
  if (value === undefined) return undefined;
  if (!(POLICIES as readonly string[]).includes(value)) throw new UsageError(`--${flag} must be one of ${POLICIES.join(', ')}`);
  return value as (typeof POLICIES)[number];
}

function positiveInt(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new UsageError(`--${flag} must be a positive integer`);
  return n;
}

function parseNow(value: string | undefined): number {
  if (value === undefined) return Date.now();
  const t = Date.parse(value);
  if (Number.isNaN(t)) throw new UsageError(`--now "${value}" is not an ISO 8601 time`);
  return t;
}

function formatFor(file: string, explicit: string | undefined): ZoneFormat {
  if (explicit !== undefined) {
    if (explicit !== 'text' && explicit !== 'wire' && explicit !== 'axfr') throw new UsageError('--format must be text, wire or axfr');
    return explicit;
  }
  const name = file.replace(/\.gz$/i, '');
  if (/\.wire$/i.test(name)) return 'wire';
  if (/\.axfr$/i.test(name)) return 'axfr';
  return 'text';
}

const CHECK_OPTIONS = {
  'trust-anchor': { type: 'string' },
  now: { type: 'string' },
  json: { type: 'boolean' },
  zonemd: { type: 'string' },
  dnssec: { type: 'string' },
  format: { type: 'string' },
  origin: { type: 'string' },
  'max-bytes': { type: 'string' },
  'max-records': { type: 'string' },
  'max-age': { type: 'string' },
  output: { type: 'string', short: 'o' },
  verifier: { type: 'string' },
  force: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

function iso(ms: number | null): string {
  return ms === null ? 'none' : new Date(ms).toISOString();
}

function describe(report: ZoneReport): string {
  const lines: string[] = [];
  lines.push(`zone      ${report.origin} (class ${report.class})`);
  lines.push(`serial    ${report.serial}`);
  lines.push(`records   ${report.records}`);
  for (const [type, n] of Object.entries(report.types)) lines.push(`  ${type.padEnd(10)} ${n}`);
  const z = report.zonemd;
  const alg = z.verifiedWith ? ` (scheme ${z.verifiedWith.scheme}, algorithm ${z.verifiedWith.algorithm === 1 ? 'SHA-384' : 'SHA-512'})` : '';
  lines.push(`ZONEMD    ${z.status}${alg}${z.status !== 'verified' && z.reason ? `: ${z.reason}` : ''}`);
  const d = report.dnssec;
  lines.push(
    `DNSSEC    ${d.status}: DNSKEY RRset ${d.keyset}; ${d.valid}/${d.signatures} signatures valid; ` +
      `${d.rrsets} signed RRsets; ${d.denial === 'nsec3' ? 'NSEC3' : 'NSEC'} chain ${d.nsec === 'unsupported' ? 'not checked' : d.nsec}`,
  );
  if (d.status !== 'verified' && d.reason) lines.push(`          ${d.reason}`);
  for (const f of d.failures.slice(0, 10)) lines.push(`          - ${f}`);
  if (d.failureCount > 10) lines.push(`          … ${d.failureCount - 10} more`);
  lines.push(`earliest RRSIG expiration ${iso(report.earliestRrsigExpiration)}`);
  lines.push(`SOA expire ${report.soa.expire}s from ${iso(report.lastRefresh)}`);
  lines.push(`expires   ${report.expires}`);
  for (const w of report.warnings) lines.push(`warning   ${w}`);
  lines.push(`usable    ${report.usable ? 'yes' : `no: ${report.reasons.join('; ')}`}`);
  return lines.join('\n') + '\n';
}

async function run(
  sub: 'check' | 'compile',
  args: string[],
  out: CommandOutput,
): Promise<number> {
  const { values, positionals } = parseArgs({ args, options: CHECK_OPTIONS, allowPositionals: true, strict: true });
  if (values.help) {
    out.stdout(USAGE);
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError(`zone ${sub} takes exactly one zone file`);
  const file = positionals[0]!;
  if (sub === 'compile' && !values.output) throw new UsageError('zone compile needs -o IMAGE');
  const now = parseNow(values.now);
  const zonemd: ZonemdPolicy | undefined = policy(values.zonemd, 'zonemd');
  const dnssec: DnssecPolicy | undefined = policy(values.dnssec, 'dnssec');
  const maxBytes = positiveInt(values['max-bytes'], 'max-bytes');
  const maxRecords = positiveInt(values['max-records'], 'max-records');
  const maxAge = positiveInt(values['max-age'], 'max-age');
  const format = formatFor(file, values.format);

  if (values.verifier !== undefined && values.verifier !== 'worker' && values.verifier !== 'webcrypto') {
    throw new UsageError('--verifier must be worker or webcrypto');
  }
  // started first so the worker is up by the time the zone is parsed
  const verifier: ClosableVerifier =
    values.verifier === 'webcrypto' ? { ...webCryptoVerifier, close: async () => undefined } : createWorkerVerifier();
  try {
    let trustAnchor: TrustAnchor | null = null;
    if (values['trust-anchor']) {
      const path = values['trust-anchor'];
      trustAnchor = await parseTrustAnchor(await readWhole(path), { file: path });
    }
    const { id, resolver } = await includeResolverFor(file);
    const options: LoadOptions & Parameters<typeof checkZone>[1] = {
      format,
      file: basename(file),
      fileId: id,
      include: resolver,
      now,
      trustAnchor,
      verifier,
      // Checking signatures during the parse needs a core beyond the one parsing and the one
      // V8 compiles on; on two cores it measured slower (bench/RESULTS.md), so only with more.
      prefetch: availableParallelism() >= 4,
      ...(values.origin !== undefined ? { origin: values.origin } : {}),
      ...(maxBytes !== undefined ? { maxBytes } : {}),
      ...(maxRecords !== undefined ? { maxRecords } : {}),
      ...(maxAge !== undefined ? { maxAgeMs: maxAge * 1000 } : {}),
      ...(zonemd ? { zonemd } : {}),
      ...(dnssec ? { dnssec } : {}),
    };
    const { zone, report } = await checkZone(fileChunks(file), options);
    if (sub === 'check') {
      if (values.json) out.stdout(JSON.stringify(report, null, 2) + '\n');
      else out.stdout(describe(report));
      if (!report.usable) out.stderr(`zone check: ${file} is not usable: ${report.reasons.join('; ')}\n`);
      return report.usable ? 0 : 1;
    }
    if (!report.usable && !values.force) {
      out.stderr(`zone compile: ${file} is not usable, no image written: ${report.reasons.join('; ')}\n`);
      return 1;
    }
    const image = await compileImage(zone, report);
    await writeFileAtomically(values.output!, image);
    const summary = `wrote ${values.output} (${image.length} bytes): ${report.origin} serial ${report.serial}, ZONEMD ${report.zonemd.status}, DNSSEC ${report.dnssec.status}, expires ${report.expires}${report.usable ? '' : ' [NOT USABLE, --force]'}`;
    if (values.json) out.stdout(JSON.stringify({ ...report, image: { path: values.output, bytes: image.length } }, null, 2) + '\n');
    else out.stdout(summary + '\n');
    return report.usable ? 0 : 1;
  } catch (err) {
    return refuse(sub, file, err, values.json === true, out);
  } finally {
    await verifier.close();
  }
}

function refuse(sub: string, file: string, err: unknown, json: boolean, out: CommandOutput): number {
  if (err instanceof ZoneError) {
    if (json) out.stdout(JSON.stringify({ usable: false, error: { code: err.code, message: err.message } }, null, 2) + '\n');
    out.stderr(`zone ${sub}: ${file}: ${err.message}\n`);
    return 1;
  }
  const e = err as NodeJS.ErrnoException;
  if (e && typeof e.code === 'string' && e.syscall) {
    if (json) out.stdout(JSON.stringify({ usable: false, error: { code: e.code, message: e.message } }, null, 2) + '\n');
    out.stderr(`zone ${sub}: ${e.message}\n`);
    return 1;
  }
  // a bug, not bad input: still a refusal (the copy is not used), with the stack to report it
  if (json) out.stdout(JSON.stringify({ usable: false, error: { code: 'internal', message: String(e?.message ?? err) } }, null, 2) + '\n');
  out.stderr(`zone ${sub}: internal error: ${(err as Error)?.stack ?? String(err)}\n`);
  return 1;
}

async function inspect(args: string[], out: CommandOutput): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: { json: { type: 'boolean' }, now: { type: 'string' } },
    allowPositionals: true,
    strict: true,
  });
  if (positionals.length !== 1) throw new UsageError('zone inspect takes exactly one image file');
  const now = parseNow(values.now);
  const path = positionals[0]!;
  try {
    const started = performance.now();
    const image = await readImage(await readWhole(path));
    const loadMs = performance.now() - started;
    const expired = now >= image.expiresAt;
    const info = {
      origin: image.originText,
      serial: image.serial,
      version: `${image.version.major}.${image.version.minor}`,
      records: image.recordCount,
      names: image.nameCount,
      rrsets: image.rrsetCount,
      zonemd: { status: image.zonemd },
      dnssec: { status: image.dnssec, keyset: image.keyset },
      verifiedAt: new Date(image.verifiedAt).toISOString(),
      earliestRrsigExpiration: image.earliestRrsigExpiration === null ? null : new Date(image.earliestRrsigExpiration).toISOString(),
      expires: new Date(image.expiresAt).toISOString(),
      bytes: image.bytes.length,
      digest: image.digest,
      loadMs: Math.round(loadMs * 100) / 100,
      usable: !expired,
    };
    if (values.json) out.stdout(JSON.stringify(info, null, 2) + '\n');
    else {
      out.stdout(
        Object.entries(info)
          .map(([k, v]) => `${k.padEnd(24)} ${typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v)}`)
          .join('\n') + '\n',
      );
    }
    if (expired) out.stderr(`zone inspect: ${path} expired at ${info.expires}\n`);
    return expired ? 1 : 0;
  } catch (err) {
    return refuse('inspect', path, err, values.json === true, out);
  }
}

/** `argv` starts after the word `zone`, e.g. `['check', 'root.zone', '--json']`. */
export async function zoneCommand(argv: string[], out: CommandOutput): Promise<number> {
  const [sub, ...rest] = argv;
  try {
    switch (sub) {
      case 'check':
      case 'compile':
        return await run(sub, rest, out);
      case 'inspect':
        return await inspect(rest, out);
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        out.stdout(USAGE);
        return sub === undefined ? 2 : 0;
      default:
        throw new UsageError(`unknown zone command "${sub}"`);
    }
  } catch (err) {
    if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      out.stderr(`zone: ${(err as Error).message}\n${USAGE}`);
      return 2;
    }
    throw err;
  }
}
