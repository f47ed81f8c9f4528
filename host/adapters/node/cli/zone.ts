/**
 * `edge-resolver zone check|compile|inspect`: the operator's view of a zone copy before it is
 * activated. Exit 0 only when the copy is usable; otherwise the reason, and a non-zero code
 * (1: the zone or image is refused, 2: the command line is wrong).
 */

import { availableParallelism } from 'node:os';
import { basename } from 'node:path';
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
import { createWorkerVerifier, nodeZonemdHash, type ClosableVerifier } from './zone-crypto.js';
import type { VerifyWorker } from './verify-worker.js';
import { writeFileAtomically } from '../files.js';
import { fileChunks, includeResolverFor, readWhole } from './zone-files.js';
import { EXIT, UsageError, describeFsError, groupHelp, guarded, parseCommand, type Command } from './args.js';

export interface CommandOutput {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
}


const POLICIES = ['require', 'verify-if-present', 'ignore'] as const;

/** A bad flag value; reported as a wrong command line of the subcommand that got it. */
class BadValue extends Error {}

function policy(value: string | undefined, flag: string): (typeof POLICIES)[number] | undefined {
  if (value === undefined) return undefined;
  if (!(POLICIES as readonly string[]).includes(value)) throw new BadValue(`--${flag} must be one of ${POLICIES.join(', ')}`);
  return value as (typeof POLICIES)[number];
}

function positiveInt(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new BadValue(`--${flag} must be a positive integer`);
  return n;
}

function parseNow(value: string | undefined): number {
  if (value === undefined) return Date.now();
  const t = Date.parse(value);
  // ISO 8601 only: Date.parse alone would take "1" (the year 2001) or "Tuesday 3pm".
  const iso = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(value);
  if (!iso || Number.isNaN(t)) throw new BadValue(`--now "${value}" is not an ISO 8601 time (e.g. 2026-08-22T12:00:00Z)`);
  return t;
}

function formatFor(file: string, explicit: string | undefined): ZoneFormat {
  if (explicit !== undefined) {
    if (explicit !== 'text' && explicit !== 'wire' && explicit !== 'axfr') throw new BadValue('--format must be text, wire or axfr');
    return explicit;
  }
  const name = file.replace(/\.gz$/i, '');
  if (/\.wire$/i.test(name)) return 'wire';
  if (/\.axfr$/i.test(name)) return 'axfr';
  return 'text';
}

const CHECK_FLAGS: Command['flags'] = {
  'trust-anchor': { type: 'string', value: 'FILE', help: 'DS and/or DNSKEY records for the zone apex' },
  now: { type: 'string', value: 'ISO-8601', help: 'the clock for signature windows and expiry (default: now)' },
  json: { type: 'boolean', help: 'the full report as JSON' },
  zonemd: { type: 'string', value: 'POLICY', help: 'require, verify-if-present (default) or ignore' },
  dnssec: { type: 'string', value: 'POLICY', help: 'require, verify-if-present (default) or ignore' },
  format: { type: 'string', value: 'FORMAT', help: 'text, wire or axfr (default: from the file name)' },
  origin: { type: 'string', value: 'NAME', help: 'initial $ORIGIN; the SOA must be at this name' },
  'max-bytes': { type: 'string', value: 'N', help: 'input limit in bytes (default 64 MiB)' },
  'max-records': { type: 'string', value: 'N', help: 'input limit in records (default 1,000,000)' },
  'max-age': { type: 'string', value: 'SECONDS', help: "operator cap on the copy's age; never past SOA EXPIRE" },
  verifier: { type: 'string', value: 'worker|webcrypto', help: 'how signatures are checked (default worker)' },
};
const ZONE_DETAILS = 'FILE may be gzip-compressed. Exit status: 0 usable, 1 refused, 2 a wrong command line (docs/zones.md).';

const ZONE_CHECK: Command = {
  name: 'zone check',
  synopsis: 'FILE [options]',
  summary: 'Checks a zone file as a node does before serving it: parse, ZONEMD, DNSSEC, expiry.',
  flags: CHECK_FLAGS,
  positionals: { min: 1, max: 1, what: 'the zone FILE' },
  details: ZONE_DETAILS,
};
const ZONE_COMPILE: Command = {
  name: 'zone compile',
  synopsis: 'FILE -o IMAGE [options]',
  summary: 'Runs the same check and writes a zone image, only for a usable zone (docs/zone-image.md).',
  flags: {
    output: { type: 'string', short: 'o', value: 'IMAGE', help: 'where the image is written (atomically)' },
    force: { type: 'boolean', help: 'write an unusable zone anyway, for inspection' },
    ...CHECK_FLAGS,
  },
  positionals: { min: 1, max: 1, what: 'the zone FILE' },
  details: ZONE_DETAILS,
};
const ZONE_INSPECT: Command = {
  name: 'zone inspect',
  synopsis: 'IMAGE [--json] [--now ISO-8601]',
  summary: 'Validates a zone image (structure and digest) and prints its header.',
  flags: {
    json: { type: 'boolean', help: 'the header as JSON' },
    now: { type: 'string', value: 'ISO-8601', help: 'the clock for the expiry check (default: now)' },
  },
  positionals: { min: 1, max: 1, what: 'the IMAGE file' },
  details: 'Exit status: 0 valid and not expired, 1 invalid or expired, 2 a wrong command line.',
};
export const ZONE_COMMANDS = [ZONE_CHECK, ZONE_COMPILE, ZONE_INSPECT];
const ZONE_SUMMARY = 'Zone copies for static_zone: check a zone file, compile it to an image, inspect an image.';

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
  worker: VerifyWorker | undefined,
): Promise<number> {
  const parsed = parseCommand(sub === 'check' ? ZONE_CHECK : ZONE_COMPILE, args, out);
  if (!parsed) return EXIT.ok;
  const values = parsed.values as Record<string, string | undefined> & { json?: boolean; force?: boolean };
  const file = parsed.positionals[0]!;
  if (sub === 'compile' && !values.output) throw new BadValue('missing -o IMAGE');
  const now = parseNow(values.now);
  const zonemd: ZonemdPolicy | undefined = policy(values.zonemd, 'zonemd');
  const dnssec: DnssecPolicy | undefined = policy(values.dnssec, 'dnssec');
  const maxBytes = positiveInt(values['max-bytes'], 'max-bytes');
  const maxRecords = positiveInt(values['max-records'], 'max-records');
  const maxAge = positiveInt(values['max-age'], 'max-age');
  const format = formatFor(file, values.format);

  if (values.verifier !== undefined && values.verifier !== 'worker' && values.verifier !== 'webcrypto') {
    throw new BadValue('--verifier must be worker or webcrypto');
  }
  // started first (or by main.ts before this module was loaded) so the worker is up by the time
  // the zone is parsed
  const verifier: ClosableVerifier =
    values.verifier === 'webcrypto' ? { ...webCryptoVerifier, close: async () => undefined } : createWorkerVerifier(worker ? { worker } : {});
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
      zonemdHash: nodeZonemdHash,
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
    out.stderr(`zone ${sub}: ${describeFsError(e, e.path ?? file)}\n`);
    return 1;
  }
  // a bug, not bad input: still a refusal (the copy is not used), with the stack to report it
  if (json) out.stdout(JSON.stringify({ usable: false, error: { code: 'internal', message: String(e?.message ?? err) } }, null, 2) + '\n');
  out.stderr(`zone ${sub}: internal error: ${(err as Error)?.stack ?? String(err)}\n`);
  return 1;
}

async function inspect(args: string[], out: CommandOutput): Promise<number> {
  const parsed = parseCommand(ZONE_INSPECT, args, out);
  if (!parsed) return EXIT.ok;
  const values = parsed.values as { json?: boolean; now?: string };
  const now = parseNow(values.now);
  const path = parsed.positionals[0]!;
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

export interface ZoneCommandOptions {
  /**
   * A signature thread started before this module was loaded (main.ts does, for check and
   * compile): the command uses it instead of starting one, and ends it in any case.
   */
  worker?: VerifyWorker;
}

/** `argv` starts after the word `zone`, e.g. `['check', 'root.zone', '--json']`. */
export function zoneCommand(argv: string[], out: CommandOutput, options: ZoneCommandOptions = {}): Promise<number> {
  const [sub, ...rest] = argv;
  const { worker } = options;
  return guarded(out, async () => {
    try {
      switch (sub) {
        case 'check':
        case 'compile':
          return await run(sub, rest, out, worker);
        case 'inspect':
          return await inspect(rest, out);
        case 'help':
        case '--help':
        case '-h':
          out.stdout(groupHelp('zone', ZONE_SUMMARY, ZONE_COMMANDS));
          return EXIT.ok;
        case undefined:
          throw new UsageError('zone', 'missing command (check, compile, inspect); see edge-resolver zone --help');
        default:
          throw new UsageError('zone', `unknown command "${sub}" (check, compile, inspect)`);
      }
    } catch (err) {
      if (err instanceof BadValue) throw new UsageError(`zone ${sub}`, err.message);
      throw err;
    } finally {
      // one no verifier took (--help, a wrong command line, --verifier webcrypto); a second
      // terminate of one that was taken is harmless
      if (worker) void worker.worker.terminate();
    }
  });
}
