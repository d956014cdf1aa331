import { describe, expect, test } from 'bun:test';
import { isPublic, nonPublicAddressProblem, type Lookup } from '../../src/ingest-address.ts';

// Allowed ingests must resolve to public addresses unless the allow-list names the address
// (docs/configuration.md#allowed-ingests). DNS is given here; the process test uses the system's.

/** A resolver that answers from a table and fails for anything else. */
function table(answers: Record<string, string[]>): Lookup & { asked: string[] } {
  const asked: string[] = [];
  const lookup = async (host: string) => {
    asked.push(host);
    const a = answers[host];
    if (!a) throw new Error('ENOTFOUND');
    return a;
  };
  return Object.assign(lookup, { asked });
}

describe('non-public ingest addresses', () => {
  test.each([
    '127.0.0.1', '10.1.2.3', '172.16.0.9', '192.168.1.1', '169.254.169.254', '169.254.170.2', '100.64.0.1', '0.0.0.0',
    '224.0.0.1', '255.255.255.255', '::1', '::', 'fd00:ec2::254', 'fe80::1', '::ffff:10.0.0.1', '::ffff:127.0.0.1', 'not-an-address',
  ])('%s is not public', (address) => {
    expect(isPublic(address)).toBe(false);
  });

  test.each(['52.94.133.131', '3.33.208.11', '2600:1f18::1', '::ffff:52.94.133.131'])('%s is public', (address) => {
    expect(isPublic(address)).toBe(true);
  });

  test('a name with any non-public address is refused, naming the host but not the address', async () => {
    const lookup = table({
      'abc.global-contribute.live-video.net': ['52.94.133.131', '2600:1f18::1'],
      'rebind.example.com': ['52.94.133.131', '169.254.169.254'],
      'internal.example.com': ['10.0.0.5'],
    });
    expect(await nonPublicAddressProblem('abc.global-contribute.live-video.net', lookup)).toBeUndefined();
    expect(await nonPublicAddressProblem('rebind.example.com', lookup)).toBe('ingest rebind.example.com resolves to a non-public address');
    expect(await nonPublicAddressProblem('internal.example.com', lookup)).toBe('ingest internal.example.com resolves to a non-public address');
  });

  test('an address, or localhost, is what the allow-list named: not looked up; an unresolvable name is left to FFmpeg', async () => {
    const lookup = table({});
    expect(await nonPublicAddressProblem('127.0.0.1', lookup)).toBeUndefined();
    expect(await nonPublicAddressProblem('10.0.0.5', lookup)).toBeUndefined();
    expect(await nonPublicAddressProblem('localhost', lookup)).toBeUndefined();
    expect(lookup.asked).toEqual([]);
    expect(await nonPublicAddressProblem('nowhere.example.com', lookup)).toBeUndefined();
    expect(lookup.asked).toEqual(['nowhere.example.com']);
  });
});
