// What crosses the lab's underlay, per protocol: an nftables table in one site's namespace with a named
// counter per protocol and direction on the underlay veth. The requirement it serves (hsm/10) is that
// every underlay packet is WireGuard, key control, the PQC exchange or the KMS link — the HSM service and
// its replication travel inside the tunnel only. A packet of the HSM service's port on the veth (the
// send-outside-tunnel fault) shows in `hsm-sync`; anything unforeseen shows in `other`.
//
//   table inet qkdh_underlay
//     prerouting  (iifname <veth>): udp 51820 → wireguard_in, tcp 9440 → key_control_in, …, else other_in
//     postrouting (oifname <veth>): the same with _out
//
// Each packet is counted once per direction: the first rule that matches (by source or destination
// port) counts it and ends the chain (`accept` of this table only; other tables still see the packet).
// IPv6 neighbour discovery and MLD on the link are counted apart (`link`): they carry no payload of
// anyone's. ARP is below the inet family and not seen. Read with `nft -j list counters table …`.
// WireGuard's handshake messages (type 1 initiation, 2 response, 3 cookie reply: the first byte of the
// UDP payload) are also counted apart, before the packet goes on to the `wireguard` counter (which
// still counts every WireGuard packet): the wire budget per rotation reports them (wg/23).
// The table name is a parameter so that two users in one namespace (hsm/10's window, the e2e
// observation's per-rotation budget) never zero each other's counters.
// Every call goes through the namespace's SiteDriver with a deadline.
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { SiteDriver } from '../sites/driver.ts';
import { PORTS } from './names.ts';

export const UNDERLAY_TABLE = 'qkdh_underlay';

/** The protocols told apart on the underlay (what the reference deployment runs there). */
export const UNDERLAY_PROTOCOLS = [
  { name: 'wireguard', l4: 'udp', port: PORTS.wireguard, what: 'WireGuard (the tunnel)' },
  { name: 'key-control', l4: 'tcp', port: PORTS.keyControl, what: 'key control (Arnika peer link)' },
  { name: 'pqc', l4: 'tcp', port: PORTS.pqc, what: 'PQC key exchange (Rosenpass stand-in)' },
  { name: 'kms-link', l4: 'tcp', port: PORTS.kmsLink, what: 'the KMS link between the KMEs' },
  { name: 'kme', l4: 'tcp', port: PORTS.kme, what: 'ETSI 014 KME API (local to a site; counted should it cross)' },
  { name: 'hsm-sync', l4: 'tcp', port: PORTS.hsmSync, what: 'the HSM service / replication (must be in the tunnel only)' },
] as const;

export type UnderlayProtocol = (typeof UNDERLAY_PROTOCOLS)[number]['name'] | 'link' | 'other';
export const COUNTED: readonly UnderlayProtocol[] = [...UNDERLAY_PROTOCOLS.map((p) => p.name), 'link', 'other'];

export interface PacketCount {
  packets: number;
  bytes: number;
}

export interface UnderlaySample {
  /** Local clock (ms since epoch) of the read. */
  at: number;
  /** Per protocol: both directions, and each. */
  protocols: Record<UnderlayProtocol, PacketCount & { in: PacketCount; out: PacketCount }>;
  /** WireGuard handshake messages (initiation, response, cookie), also counted in `wireguard`; absent in a table without these counters. */
  wireguardHandshake?: PacketCount & { in: PacketCount; out: PacketCount };
}

/** Why the counters cannot be used here (nft missing), or undefined. */
export function nftUnavailable(): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/sbin'];
  for (const d of dirs) {
    try {
      accessSync(join(d, 'nft'), constants.X_OK);
      return undefined;
    } catch {
      /* next */
    }
  }
  return 'nft is not installed (Debian: nftables; see .ci/apt-packages)';
}

const counterName = (p: UnderlayProtocol | 'wg-handshake', dir: 'in' | 'out'): string => `${p.replace(/-/g, '_')}_${dir}`;

function checkTable(table: string): string {
  if (!/^[A-Za-z][A-Za-z0-9_]{0,30}$/.test(table)) throw new Error(`not an nft table name: ${table}`);
  return table;
}

/** The nft script that (re)creates the table (default qkdh_underlay) for `iface`. Pure; exported for tests. */
export function underlayRuleset(iface: string, table = UNDERLAY_TABLE): string {
  if (!/^[A-Za-z0-9_.-]{1,15}$/.test(iface)) throw new Error(`not an interface name: ${iface}`);
  const lines: string[] = [`table inet ${checkTable(table)} {`];
  for (const p of [...COUNTED, 'wg-handshake' as const]) for (const dir of ['in', 'out'] as const) lines.push(`  counter ${counterName(p, dir)} {}`);
  for (const [chain, hook, dir, match] of [
    ['underlay_in', 'prerouting', 'in', 'iifname'],
    ['underlay_out', 'postrouting', 'out', 'oifname'],
  ] as const) {
    lines.push(`  chain ${chain} {`, `    type filter hook ${hook} priority -300; policy accept;`);
    lines.push(`    ${match} != "${iface}" accept`);
    // No verdict: the handshake message goes on to the wireguard rule below.
    lines.push(`    meta l4proto udp udp dport ${PORTS.wireguard} @th,64,8 { 1, 2, 3 } counter name "${counterName('wg-handshake', dir)}"`);
    for (const p of UNDERLAY_PROTOCOLS) {
      for (const end of ['dport', 'sport']) lines.push(`    meta l4proto ${p.l4} ${p.l4} ${end} ${p.port} counter name "${counterName(p.name, dir)}" accept`);
    }
    lines.push(`    icmpv6 type { nd-router-solicit, nd-router-advert, nd-neighbor-solicit, nd-neighbor-advert, mld-listener-query, mld-listener-report, mld2-listener-report } counter name "${counterName('link', dir)}" accept`);
    lines.push(`    counter name "${counterName('other', dir)}" accept`, '  }');
  }
  lines.push('}');
  return `${lines.join('\n')}\n`;
}

/** Parses `nft -j list counters table inet <table>`. Pure. @throws Error when a counter is missing. */
export function parseCounters(json: string, at = Date.now(), table = UNDERLAY_TABLE): UnderlaySample {
  let doc: { nftables?: Array<{ counter?: { name?: string; table?: string; packets?: number; bytes?: number } }> };
  try {
    doc = JSON.parse(json) as typeof doc;
  } catch {
    throw new Error('nft printed no JSON (nftables too old for -j?)');
  }
  const byName = new Map<string, PacketCount>();
  for (const e of doc.nftables ?? []) {
    const c = e.counter;
    if (c?.name && c.table === table && Number.isFinite(c.packets) && Number.isFinite(c.bytes)) byName.set(c.name, { packets: c.packets!, bytes: c.bytes! });
  }
  const protocols = {} as UnderlaySample['protocols'];
  for (const p of COUNTED) {
    const get = (dir: 'in' | 'out'): PacketCount => {
      const c = byName.get(counterName(p, dir));
      if (!c) throw new Error(`the underlay counter ${counterName(p, dir)} is missing from table ${table}`);
      return c;
    };
    const i = get('in');
    const o = get('out');
    protocols[p] = { packets: i.packets + o.packets, bytes: i.bytes + o.bytes, in: i, out: o };
  }
  const hi = byName.get(counterName('wg-handshake', 'in'));
  const ho = byName.get(counterName('wg-handshake', 'out'));
  const wireguardHandshake = hi && ho ? { packets: hi.packets + ho.packets, bytes: hi.bytes + ho.bytes, in: hi, out: ho } : undefined;
  return { at, protocols, ...(wireguardHandshake ? { wireguardHandshake } : {}) };
}

/** Counts between two samples of the same table (b later than a). */
export function underlayDelta(a: UnderlaySample, b: UnderlaySample): UnderlaySample {
  const d = (x: PacketCount, y: PacketCount): PacketCount => ({ packets: y.packets - x.packets, bytes: y.bytes - x.bytes });
  const protocols = {} as UnderlaySample['protocols'];
  for (const p of COUNTED) {
    const x = a.protocols[p];
    const y = b.protocols[p];
    protocols[p] = { ...d(x, y), in: d(x.in, y.in), out: d(x.out, y.out) };
  }
  const x = a.wireguardHandshake;
  const y = b.wireguardHandshake;
  return { at: b.at, protocols, ...(x && y ? { wireguardHandshake: { ...d(x, y), in: d(x.in, y.in), out: d(x.out, y.out) } } : {}) };
}

/** Per-protocol counters on one site's underlay interface. */
export class UnderlayCounters {
  private constructor(
    readonly driver: SiteDriver,
    readonly iface: string,
    private readonly timeoutMs: number,
    readonly table: string,
  ) {}

  /**
   * Creates (or re-creates, zeroed) the table in the driver's namespace.
   * @param o.timeoutMs deadline of each nft call (default 10 000 ms)
   * @param o.table the table's name (default qkdh_underlay): each user its own, so none zeroes another's
   * @throws SiteCommandError when nft is missing or refuses the ruleset.
   */
  static async install(driver: SiteDriver, iface: string, o: { timeoutMs?: number; table?: string } = {}): Promise<UnderlayCounters> {
    const c = new UnderlayCounters(driver, iface, o.timeoutMs ?? 10_000, checkTable(o.table ?? UNDERLAY_TABLE));
    await c.remove();
    await driver.check(['nft', '-f', '-'], { input: underlayRuleset(iface, c.table), timeoutMs: c.timeoutMs });
    return c;
  }

  /** The counters now. @throws SiteCommandError / Error when the table is gone or unreadable. */
  async read(): Promise<UnderlaySample> {
    const out = await this.driver.check(['nft', '-j', 'list', 'counters', 'table', 'inet', this.table], { timeoutMs: this.timeoutMs });
    return parseCounters(out, Date.now(), this.table);
  }

  /** Deletes the table; absent is fine. */
  async remove(): Promise<void> {
    await this.driver.run(['nft', 'delete', 'table', 'inet', this.table], { timeoutMs: this.timeoutMs });
  }
}
