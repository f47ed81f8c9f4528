import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { nameToText } from '../dns/wire.js';
import { ZoneError } from '../zone/errors.js';
import { IANA_ROOT_HINTS, parseRootHints, type RootHints } from './root-hints.js';

const flat = (h: RootHints) => h.servers.map((s) => `${nameToText(s.name).toLowerCase()} ${[...s.addresses].sort().join(' ')}`).sort();

describe('root hints', () => {
  it('reads IANA named.root and matches the built-in hints', async () => {
    const text = readFileSync(join(__dirname, '../../../test/fixtures/named.root'), 'utf8');
    const hints = await parseRootHints(text, 'named.root');
    expect(hints.servers).toHaveLength(13);
    expect(flat(hints)).toEqual(flat(IANA_ROOT_HINTS));
  });

  it('takes class IN, owner continuation lines and comments', async () => {
    const hints = await parseRootHints(['; private root', '. 3600 IN NS ns.root.test.', 'ns.root.test. A 127.0.0.9', '  AAAA ::1 ; same owner'].join('\n'));
    expect(flat(hints)).toEqual(['ns.root.test. 127.0.0.9 ::1']);
  });

  async function refusal(text: string): Promise<ZoneError> {
    try {
      await parseRootHints(text, 'hints');
    } catch (e) {
      expect(e).toBeInstanceOf(ZoneError);
      return e as ZoneError;
    }
    throw new Error('accepted');
  }

  it('refuses what has no place in hints, naming the line', async () => {
    expect((await refusal('. NS a.test.\na.test. A 1.2.3\n')).message).toMatch(/^hints:2:\d+: bad IPv4 address/);
    expect((await refusal('. NS a.test.\nexample. NS b.test.\n')).message).toMatch(/^hints:2:1: NS record owned by example\./);
    expect((await refusal('. NS a.test.\na.test. A 1.2.3.4\n. SOA a. b. 1 2 3 4 5\n')).message).toMatch(/^hints:3:1: a SOA record/);
    expect((await refusal('. NS a.test.\nb.test. A 1.2.3.4\n')).message).toMatch(/^hints:2:1: address for b\.test\./);
    expect((await refusal('$TTL 300\n. NS a.test.\n')).message).toMatch(/^hints:1:1: directives/);
    expect((await refusal('. NS a.test.\n')).message).toMatch(/no root server with an address/);
    expect((await refusal('. NS a.test.\na.test. A 1.2.3.4\nx. BOGUSTYPE 1\n')).message).toMatch(/^hints:3:/);
  });
});
