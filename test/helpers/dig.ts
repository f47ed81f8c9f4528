/** Real DNS clients for tests: dig (bind9-dnsutils) and kdig (knot-dnsutils). */

import { execFile } from 'node:child_process';

export interface ToolResult {
  stdout: string;
  stderr: string;
  code: number;
}

export function run(cmd: string, args: string[], timeoutMs = 15_000): Promise<ToolResult> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as NodeJS.ErrnoException).code === 'number' ? Number((err as NodeJS.ErrnoException).code) : 1) : 0;
      resolve({ stdout: String(stdout), stderr: String(stderr), code });
    });
  });
}

/** dig with +short; returns the answer lines. */
export async function digShort(args: string[]): Promise<string[]> {
  const r = await run('dig', [...args, '+short']);
  if (r.code !== 0) throw new Error(`dig failed (${r.code}): ${r.stderr || r.stdout}`);
  return r.stdout.split('\n').filter((l) => l && !l.startsWith(';'));
}

export interface DigAnswer {
  status: string;
  flags: string[];
  answers: Array<{ name: string; ttl: number; type: string; data: string }>;
  authority: Array<{ name: string; ttl: number; type: string; data: string }>;
  raw: string;
}

/** Parses dig's default output (status, flags, ANSWER and AUTHORITY sections). */
export function parseDig(out: string): DigAnswer {
  const status = /status: ([A-Z]+)/.exec(out)?.[1] ?? 'NONE';
  const flags = (/;; flags: ([a-z ]+);/i.exec(out)?.[1] ?? '').trim().toLowerCase().split(/\s+/).filter(Boolean);
  const section = (name: string) => {
    const m = new RegExp(`;; ${name} SECTION:\\n([\\s\\S]*?)(?:\\n\\n|$)`).exec(out);
    if (!m) return [];
    return m[1]!
      .split('\n')
      .filter((l) => l && !l.startsWith(';'))
      .map((l) => {
        const [n, ttl, , type, ...data] = l.split(/\s+/);
        return { name: n!, ttl: Number(ttl), type: type!, data: data.join(' ') };
      });
  };
  return { status, flags, answers: section('ANSWER'), authority: section('AUTHORITY'), raw: out };
}

export async function dig(server: { host: string; port: number }, args: string[]): Promise<DigAnswer> {
  const r = await run('dig', [`@${server.host}`, '-p', String(server.port), '+tries=1', '+time=5', ...args]);
  if (r.code !== 0) throw new Error(`dig failed (${r.code}): ${r.stdout}${r.stderr}`);
  return parseDig(r.stdout);
}

export async function kdig(server: { host: string; port: number }, args: string[]): Promise<DigAnswer> {
  const r = await run('kdig', [`@${server.host}`, '-p', String(server.port), '+retry=0', '+time=5', ...args]);
  if (r.code !== 0) throw new Error(`kdig failed (${r.code}): ${r.stdout}${r.stderr}`);
  // kdig prints the same sections as dig, with the status in ";; ->>HEADER<<- ... status: X".
  return parseDig(r.stdout.replace(/;; (ANSWER|AUTHORITY|ADDITIONAL) SECTION:/g, ';; $1 SECTION:'));
}
