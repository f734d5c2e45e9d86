// The underlay counters count: in two throwaway namespaces joined by a veth, a UDP datagram to the
// WireGuard port and a TCP SYN to the HSM service's port move exactly their counters, and a datagram to
// an unlisted port lands in `other`. Root only (skipped otherwise; fails under QKD_REQUIRE_LAB=1).
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SiteDriver } from '../sites/driver.ts';
import { labUnavailable } from './prerequisites.ts';
import { UnderlayCounters, nftUnavailable, parseCounters, underlayDelta, underlayRuleset } from './underlay-counters.ts';

const why = labUnavailable() ?? nftUnavailable();
const gate = why ? (process.env.QKD_REQUIRE_LAB === '1' ? { fail: why } : { skip: why }) : {};
const id = randomBytes(3).toString('hex');
const ns = { a: `qkdhut-${id}-a`, b: `qkdhut-${id}-b` };
const veth = { a: `ut${id}a`, b: `ut${id}b` };
const host = SiteDriver.local('host');

describe('underlay counters (pure)', () => {
  it('the ruleset names every counter and only the given interface', () => {
    const r = underlayRuleset('qhabcdefua');
    expect(r).toContain('iifname != "qhabcdefua" accept');
    expect(r).toContain('udp dport 51820 counter name "wireguard_in"');
    expect(r).toContain('tcp sport 5656 counter name "hsm_sync_out"');
    expect(r).toContain('@th,64,8 { 1, 2, 3 } counter name "wg_handshake_out"');
    expect(underlayRuleset('qhabcdefua', 'qkdh_wire')).toContain('table inet qkdh_wire {');
    expect(() => underlayRuleset('qhabcdefua', 'bad table')).toThrow(/not an nft table name/);
    expect(() => underlayRuleset('bad name; drop')).toThrow(/not an interface name/);
  });

  it('a missing counter is an error, not a zero', () => {
    expect(() => parseCounters(JSON.stringify({ nftables: [] }))).toThrow(/missing/);
  });
});

describe.skipIf(Boolean(gate.skip))(`underlay counters in a namespace${gate.skip ? ` (skipped: ${gate.skip})` : ''}`, () => {
  beforeAll(async () => {
    if (gate.fail) throw new Error(gate.fail);
    for (const n of Object.values(ns)) await host.check(['ip', 'netns', 'add', n]);
    await host.check(['ip', 'link', 'add', veth.a, 'netns', ns.a, 'type', 'veth', 'peer', 'name', veth.b, 'netns', ns.b]);
    await host.check(['ip', '-n', ns.a, 'addr', 'add', '198.18.0.1/24', 'dev', veth.a]);
    await host.check(['ip', '-n', ns.b, 'addr', 'add', '198.18.0.2/24', 'dev', veth.b]);
    for (const s of ['a', 'b'] as const) await host.check(['ip', '-n', ns[s], 'link', 'set', veth[s], 'up']);
  }, 30_000);
  afterAll(async () => {
    for (const n of Object.values(ns)) await host.run(['ip', 'netns', 'del', n]);
  });

  it('a UDP datagram to 51820 and a TCP SYN to 5656 move their counters; an unlisted port counts as other', async () => {
    const a = SiteDriver.netns('a', ns.a);
    const counters = await UnderlayCounters.install(a, veth.a);
    const before = await counters.read();
    // A datagram whose first byte is 1 looks like a WireGuard handshake initiation; 'x' like nothing.
    await a.check(['bash', '-c', "echo x > /dev/udp/198.18.0.2/51820; printf '\\001\\000\\000\\000' > /dev/udp/198.18.0.2/51820; echo y > /dev/udp/198.18.0.2/4444"], { timeoutMs: 5_000 });
    // Nothing listens on 5656: SYN out, RST back (the connection is refused, which is fine).
    await a.run(['timeout', '3', 'bash', '-c', 'exec 3<>/dev/tcp/198.18.0.2/5656'], { timeoutMs: 5_000 });
    const d = underlayDelta(before, await counters.read());
    expect(d.protocols.wireguard.out.packets).toBe(2);
    expect(d.wireguardHandshake?.out.packets).toBe(1);
    expect(d.protocols['hsm-sync'].out.packets).toBeGreaterThanOrEqual(1);
    expect(d.protocols['hsm-sync'].in.packets).toBeGreaterThanOrEqual(1);
    expect(d.protocols.other.out.packets).toBeGreaterThanOrEqual(1);
    expect(d.protocols['key-control'].packets).toBe(0);
    expect(d.protocols.pqc.packets).toBe(0);
    await counters.remove();
    await expect(counters.read()).rejects.toThrow();
  });
});
