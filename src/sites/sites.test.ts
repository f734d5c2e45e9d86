// Site drivers and `wg show dump` parsing: command prefixes (host, namespace, ssh), deadlines, and
// secrets hashed at once — neither the private key nor the PSK survives parsing.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { fingerprint } from '../secrets/fingerprint.ts';
import { SiteDriver, shellQuote } from './driver.ts';
import { parseWgDump, WgDumpError } from './wg-dump.ts';
import { pickPeer } from './wg.ts';

const key = () => randomBytes(32).toString('base64');

describe('site drivers', () => {
  it('prefixes commands: [] runs here, a namespace through ip netns exec, ssh with one quoted remote command', () => {
    expect(SiteDriver.local().argv(['wg', 'show'])).toEqual(['wg', 'show']);
    expect(SiteDriver.netns('alice', 'ns1').argv(['wg', 'show', 'x', 'dump'])).toEqual(['ip', 'netns', 'exec', 'ns1', 'wg', 'show', 'x', 'dump']);
    const ssh = new SiteDriver('bob', ['ssh', '-o', 'BatchMode=yes', 'ops@app01', 'sudo']);
    expect(ssh.viaSsh).toBe(true);
    expect(ssh.argv(['bash', '-c', 'echo $HOME; x'])).toEqual(['ssh', '-o', 'BatchMode=yes', 'ops@app01', 'sudo', "bash -c 'echo $HOME; x'"]);
    expect(shellQuote("it's")).toBe(`'it'\\''s'`);
  });

  it('runs with a deadline and reports exit codes without throwing', async () => {
    const d = SiteDriver.local();
    expect((await d.run(['sh', '-c', 'echo hi; exit 3'])).code).toBe(3);
    // The bound only has to tell "killed at the deadline" from "ran to the end" (60 s): it holds under load.
    const slow = await d.run(['sleep', '60'], { timeoutMs: 200 });
    expect(slow.timedOut).toBe(true);
    expect(slow.elapsedMs).toBeLessThan(20_000);
    await expect(d.check(['sh', '-c', 'echo nope >&2; exit 1'])).rejects.toThrow(/failed \(exit 1\): nope/);
    expect(await d.check(['cat'], { input: 'abc' })).toBe('abc');
  });
});

describe('wg show <if> dump', () => {
  it('parses interface and peer lines and keeps only fingerprints of secrets', () => {
    const priv = key();
    const psk = key();
    const text = [`${priv}\tPUB=\t51820\toff`, `PEERPUB=\t${psk}\t198.51.100.2:51820\t203.0.113.2/32\t1795324115\t1234\t5678\toff`, `OTHER=\t(none)\t(none)\t(none)\t0\t0\t0\t25`].join('\n') + '\n';
    const s = parseWgDump(text);
    expect(s.listenPort).toBe(51820);
    expect(s.peers[0]).toEqual({ publicKey: 'PEERPUB=', pskFingerprint: fingerprint(Buffer.from(psk, 'base64')), endpoint: '198.51.100.2:51820', allowedIps: ['203.0.113.2/32'], latestHandshake: 1795324115, rx: 1234, tx: 5678, keepalive: null });
    expect(s.peers[1]).toMatchObject({ pskFingerprint: '(none)', endpoint: null, allowedIps: [], latestHandshake: 0, keepalive: 25 });
    const shown = JSON.stringify(s);
    expect(shown).not.toContain(priv);
    expect(shown).not.toContain(psk);
    expect(pickPeer(s, 'PEERPUB=').rx).toBe(1234);
    expect(() => pickPeer(s)).toThrow(/2 peers/);
  });

  it('rejects malformed output without quoting key fields', () => {
    const bad = `${key()}\tPUB=\t51820\toff\nP=\tnot-a-key-but-secret\t(none)\t(none)\t0\t0\t0\toff\n`;
    expect(() => parseWgDump(bad)).toThrow(WgDumpError);
    try {
      parseWgDump(bad);
    } catch (e) {
      expect(String(e)).not.toContain('not-a-key-but-secret');
    }
    expect(() => parseWgDump('')).toThrow(/first line/);
  });
});
