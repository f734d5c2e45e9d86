// Luna HA group status as evidence: where the Luna client's `lunacm` is installed on a site, its
// `hagroup listgroups` shows each HA group with "Synchronization: enabled|disabled", "Needs sync:
// yes|no" and a member table (serial, label, alive|down). Luna replicates client-side, so this is the
// client's own view of whether every member holds every object — reported beside the harness's
// comparison, never instead of it. Without lunacm the evidence says "not available".
//
// The text format is the one of Luna client 10.x (Network HSM 7); the parser reads fields by their
// names and the member table by its header; what it does not recognise stays out (a field it cannot
// find is reported as "not shown", never assumed).
import type { SiteDriver } from './driver.ts';

export interface HaMember {
  slot?: string;
  serial: string;
  label?: string;
  /** As printed: alive, down, … (lower case). */
  status: string;
}

export interface HaGroup {
  label: string;
  number?: string;
  slot?: string;
  /** "Synchronization: enabled" → true; absent → undefined (e.g. HA-only mode, or no password given). */
  synchronization?: boolean;
  /** "Needs sync: yes" → true; absent → undefined (not shown without the members' password). */
  needsSync?: boolean;
  members: HaMember[];
  standby: string[];
}

export interface HaStatus {
  groups: HaGroup[];
  /** lunacm's "Command Result : …" line, e.g. "No Error". */
  result?: string;
}

const field = (line: string, name: string): string | undefined => {
  const m = new RegExp(`^\\s*${name}\\s*:\\s*(.*?)\\s*$`, 'i').exec(line);
  return m ? m[1] : undefined;
};
const yesNo = (v: string): boolean | undefined => (/^(yes|enabled|true)$/i.test(v) ? true : /^(no|disabled|false)$/i.test(v) ? false : undefined);

/** Parses `lunacm -c "hagroup listgroups"` output. Pure. */
export function parseHaGroups(text: string): HaStatus {
  const groups: HaGroup[] = [];
  let result: string | undefined;
  let g: HaGroup | undefined;
  let inTable = false;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.replace(/\t/g, '    ');
    const cr = field(line, 'Command Result');
    if (cr !== undefined) {
      result = cr;
      inTable = false;
      continue;
    }
    const label = field(line, 'HA Group Label');
    if (label !== undefined) {
      g = { label, members: [], standby: [] };
      groups.push(g);
      inTable = false;
      continue;
    }
    if (!g) continue;
    const v = (name: string) => field(line, name);
    let x: string | undefined;
    if ((x = v('HA Group Number')) !== undefined) g.number = x;
    else if ((x = v('HA Group Slot ID')) !== undefined) g.slot = x;
    else if ((x = v('Synchronization')) !== undefined) g.synchronization = yesNo(x);
    else if ((x = v('Needs sync')) !== undefined) g.needsSync = yesNo(x);
    else if ((x = v('Standby Members')) !== undefined) g.standby = /^<?none>?$/i.test(x) ? [] : x.split(/[,\s]+/).filter(Boolean);
    else if (/^\s*Slot\s*#?\s+Member S\/N/i.test(line)) inTable = true;
    else if (inTable && /^\s*=+(\s+=+)*\s*$/.test(line)) continue;
    else if (inTable) {
      if (!line.trim()) {
        if (g.members.length) inTable = false;
        continue;
      }
      // Slot # (a member that is down may have none: "-"), Member S/N, Member Label (may be empty or hold spaces), Status.
      const m = /^\s*(\d+|-+|n\/a)\s+(\d+)\s+(?:(.*\S)\s+)?(\S+)\s*$/i.exec(line);
      if (!m) {
        inTable = false;
        continue;
      }
      g.members.push({ ...(/^\d+$/.test(m[1]!) ? { slot: m[1] } : {}), serial: m[2]!, ...(m[3] ? { label: m[3] } : {}), status: m[4]!.toLowerCase() });
    }
  }
  return { groups, ...(result !== undefined ? { result } : {}) };
}

/** One line per group for reports: "HA group X (slot 9): 2/2 members alive, synchronization enabled, needs sync: no". */
export function describeHaStatus(s: HaStatus): string[] {
  if (!s.groups.length) return [`lunacm: no HA group${s.result && !/^no error$/i.test(s.result) ? ` (Command Result: ${s.result})` : ''}`];
  return s.groups.map((g) => {
    const alive = g.members.filter((m) => m.status === 'alive').length;
    const down = g.members.filter((m) => m.status !== 'alive').map((m) => `${m.label ?? m.serial} ${m.status}`);
    const sync = g.synchronization === undefined ? 'synchronization not shown' : `synchronization ${g.synchronization ? 'enabled' : 'disabled'}`;
    const needs = g.needsSync === undefined ? 'needs sync: not shown' : `needs sync: ${g.needsSync ? 'YES' : 'no'}`;
    return `HA group ${g.label}${g.slot ? ` (slot ${g.slot})` : ''}: ${alive}/${g.members.length} members alive${down.length ? ` (${down.join(', ')})` : ''}, ${sync}, ${needs}`;
  });
}

export type HaEvidence =
  | { available: false; reason: string }
  | { available: true; command: string[]; status: HaStatus; lines: string[]; healthy: boolean | undefined };

/** Where the Luna client installs lunacm when it is not on PATH. */
const LUNACM_PATHS = ['/usr/safenet/lunaclient/bin/lunacm'];

/**
 * Reads the HA group status on the site through `driver`: finds lunacm (`command -v`, then the Luna
 * client's default path) unless `command` is given, runs `lunacm -c "hagroup listgroups"` (no password
 * is sent: lunacm shows the sync fields only when it can, and the evidence says so), each step under
 * `timeoutMs`. `healthy`: every member alive and no group needing sync (undefined when not shown).
 * Never throws: a failure is evidence too.
 */
export async function readHaStatus(driver: SiteDriver, o: { command?: string[]; timeoutMs?: number } = {}): Promise<HaEvidence> {
  const timeoutMs = o.timeoutMs ?? 20_000;
  let command = o.command;
  if (!command) {
    const find = `command -v lunacm || for p in ${LUNACM_PATHS.join(' ')}; do test -x "$p" && echo "$p" && break; done`;
    const r = await driver.run(['sh', '-c', find], { timeoutMs });
    if (r.timedOut) return { available: false, reason: `site ${driver.name}: looking for lunacm did not finish within ${timeoutMs} ms` };
    const path = r.stdout.trim().split('\n')[0]?.trim();
    if (!path) return { available: false, reason: `not available: lunacm is not installed on site ${driver.name} (not on PATH, not in ${LUNACM_PATHS.join(', ')})` };
    command = [path, '-c', 'hagroup listgroups'];
  }
  const r = await driver.run(command, { timeoutMs, input: '' });
  if (r.timedOut) return { available: false, reason: `site ${driver.name}: \`${command.join(' ')}\` did not finish within ${timeoutMs} ms` };
  if (r.code !== 0) return { available: false, reason: `site ${driver.name}: \`${command.join(' ')}\` failed (exit ${r.code ?? r.signal}): ${r.stderr.trim().split('\n').slice(-1)[0] || 'no message'}` };
  const status = parseHaGroups(r.stdout);
  const failed = status.result !== undefined && !/^no error$/i.test(status.result);
  const flags = status.groups.flatMap((g) => [g.members.length > 0 && g.members.every((m) => m.status === 'alive'), g.needsSync === undefined ? undefined : !g.needsSync]);
  const healthy = failed || !status.groups.length || flags.includes(false) ? false : flags.includes(undefined) ? undefined : true;
  return { available: true, command, status, lines: describeHaStatus(status), healthy };
}
