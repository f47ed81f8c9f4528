/**
 * Request lines a URL parser chokes on (issue 13, item 4): the admin server and the DoH listener
 * answer every one with 400 at once, written on a raw socket so no client library tidies them.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from 'node:net';
import { startEdge, type TestNode } from '../helpers/edge.js';

/** Sends `head` on a fresh connection; resolves with the status line, or rejects after `ms`. */
function statusLine(port: number, head: string, ms = 1500): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    let got = '';
    const t = setTimeout(() => {
      s.destroy();
      reject(new Error(`no answer to ${JSON.stringify(head.split('\r\n')[0])} within ${ms} ms`));
    }, ms);
    s.on('data', (d) => {
      got += d.toString('latin1');
      if (got.includes('\r\n')) {
        clearTimeout(t);
        s.destroy();
        resolve(got.split('\r\n')[0]!);
      }
    });
    s.on('error', (e) => {
      clearTimeout(t);
      reject(e);
    });
    s.write(head);
  });
}

const LINES = ['GET //% HTTP/1.1', 'GET //[ HTTP/1.1', 'GET http://[/status HTTP/1.1', 'GET //%zz/metrics?x HTTP/1.1', 'POST http://[::1/reload HTTP/1.1'];

describe('request lines that do not parse as URLs', () => {
  let edge: TestNode;
  let admin: number;
  let doh: number;

  beforeAll(async () => {
    edge = await startEdge(`doh_http = ["127.0.0.1:0"]
[admin]
listen = "127.0.0.1:0"
[upstreams]
default = ["127.0.0.1:9"]
`);
    admin = edge.edge.listening.admin!.port;
    doh = edge.edge.listening.doh[0]!.port;
  });

  afterAll(async () => {
    await edge?.stop();
  });

  for (const line of LINES) {
    it(`admin answers ${JSON.stringify(line)} with 400 at once`, async () => {
      expect(await statusLine(admin, `${line}\r\nHost: admin\r\nContent-Length: 0\r\n\r\n`)).toMatch(/^HTTP\/1\.1 400 /);
    });

    it(`DoH answers ${JSON.stringify(line)} with 400 at once`, async () => {
      expect(await statusLine(doh, `${line}\r\nHost: doh\r\nContent-Length: 0\r\n\r\n`)).toMatch(/^HTTP\/1\.1 400 /);
    });
  }

  it('still answers good requests afterwards', async () => {
    expect(await statusLine(admin, 'GET /status HTTP/1.1\r\nHost: admin\r\n\r\n')).toMatch(/^HTTP\/1\.1 200 /);
  });
});
