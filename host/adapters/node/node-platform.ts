/**
 * The node's platform record on Node: sockets for upstreams and peers, timers, prom-client
 * metrics, the installed apps plus a config's app folders, files for app data, zone copies,
 * the trust anchor and the serial state file.
 */

import { readFile } from 'node:fs/promises';
import type { AppCatalog } from '../../apps/load-apps.js';
import { ConfigError, parseConfig, type Config } from '../../core/config.js';
import { consoleLogger, type Logger } from '../../core/log.js';
import type { UpstreamTransport } from '../../core/upstream.js';
import type { Dnstap } from '../../core/dnstap/tap.js';
import type { Platform } from '../../node/platform.js';
import { catalogForConfig, configBaseDir, dataFiles, fileDataSource } from './app-files.js';
import { nodeCatalog } from './catalog.js';
import { nodeConfigProblems } from './node-checks.js';
import { PromMetrics } from './prom-metrics.js';
import { nodeTransport } from './transport.js';
import { nodeZoneCompiler } from './zone-compiler.js';
import { resolve } from 'node:path';
import { FileSource } from './zone-file-source.js';
import { SerialFile } from './zone-serial-file.js';

/** App data other than rule sets (block lists); each app's own max_load_bytes applies too. */
const DATA_MAX_BYTES = 64 * 1024 * 1024;

export interface NodePlatformOptions {
  /** Where the config came from, for reloads and relative paths; absent for an embedded config. */
  configPath?: string;
  logger?: Logger;
  catalog?: AppCatalog;
  transport?: UpstreamTransport;
  now?: () => number;
  /** Applied to every config the node parses (serve's command-line flags over the file). */
  overrides?: (c: Config) => Config;
  /** The dnstap tap the node's upstream queries go through (EdgeNode makes it). */
  dnstap?: Dnstap;
  /** See Platform.testOnlyForwardWithoutContext. */
  testOnlyForwardWithoutContext?: boolean;
}

export function nodePlatform(o: NodePlatformOptions, applied?: Platform['applied']): Platform<PromMetrics> {
  const baseDir = configBaseDir(o.configPath);
  const installed = o.catalog ?? nodeCatalog();
  const logger = o.logger ?? consoleLogger();
  return {
    transport: o.transport ?? withBaseDir(nodeTransport, baseDir),
    ...(o.dnstap ? { dnstap: o.dnstap } : {}),
    now: o.now,
    timers: true,
    logger,
    metrics: new PromMetrics(),
    parse(text) {
      const source = o.configPath ?? 'config';
      const parsed = parseConfig(text, source);
      const config = o.overrides ? o.overrides(parsed) : parsed;
      const problems = nodeConfigProblems(config, baseDir);
      if (problems.length) throw new ConfigError(problems.map((p) => `${source}: ${p}`));
      return { config };
    },
    catalog: (c) => catalogForConfig(installed, c, baseDir),
    appData: { mode: 'with-config', of: (c) => dataFiles(c, baseDir).map((f) => fileDataSource(f, logger)) },
    zoneSource: (name) => new FileSource(name),
    zoneCompiler: nodeZoneCompiler(),
    serialStore: (name) => new SerialFile(name),
    readTrustAnchor: async (file) => ({ bytes: new Uint8Array(await readFile(file)), file }),
    readRootHints: async (file) => ({ text: await readFile(file, 'utf8'), file }),
    limits: { dataMaxBytes: DATA_MAX_BYTES },
    applied,
    testOnlyForwardWithoutContext: o.testOnlyForwardWithoutContext,
  };
}

/** Node's transport with a TLS group's relative `tls_ca` taken from the config file's folder. */
function withBaseDir(t: UpstreamTransport, baseDir: string): UpstreamTransport {
  const tls = t.tls;
  if (!tls) return t;
  return { ...t, tls: (server, msg, timeoutMs, accept) => tls({ ...server, ...(server.caFile ? { caFile: resolve(baseDir, server.caFile) } : {}) }, msg, timeoutMs, accept) };
}
