// `qkd-harness lab up|status|down|fault`: the two-site lab (docs/lab.md). `up` builds it, prints one JSON line
// (names, addresses, files) and keeps it running until SIGINT/SIGTERM (or `lab down`), then removes
// everything; `--detach` returns once it is up. `down --stale` cleans what crashed runs left behind.
// `--hsm on|off` adds (default: when SoftHSM2 and pkcs11js are usable) a SoftHSM2 token per site and the
// replication agents; `status` then also shows each token and agent (never a PIN).
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Command } from 'commander';
import { cleanupStale, teardownRecord, type CleanupReport } from '../lab/cleanup.ts';
import type { FaultSpec, KeyControl, Lab, LabInfo } from '../lab/lab.ts';
import { newRunId, type SiteName } from '../lab/names.ts';
import { REPO_ROOT } from '../lab/node.ts';
import { labUnavailable } from '../lab/prerequisites.ts';
import { isAlive, listRecords, stateDir, type LabRecord } from '../lab/state.ts';
import { defaultLab } from '../lab/select.ts';
import { hsmUnavailable } from '../lab/hsm.ts';
import { labStatus, type LabStatus } from '../lab/status.ts';
import { controlLine } from '../lab/negative-control.ts';
import { lastLines, signalGroup, type LabProcess } from '../lab/process.ts';
import { constants as osConstants } from 'node:os';
import { keyControlsFrom, parseInterval, parseMode } from '../lab/key-control-options.ts';
import { MODES } from '../../mocks/keyctl/config.ts';
import { FAULTS } from '../../mocks/keyctl/faults.ts';
import { SYNC_FAULTS, type SyncFault } from '../../mocks/hsm-sync/faults.ts';
import { CannotRunError, EXIT, UsageError } from './exit.ts';
import { registerFault } from './lab-fault.ts';

interface UpOptions {
  keyControl: string;
  keyControlAlice?: string;
  keyControlBob?: string;
  interval: string;
  pqc: string;
  pqcTimeScale: string;
  mode: string;
  fault: string[];
  hsm: string;
  hsmFault: string[];
  runId?: string;
  detach?: boolean;
  quiet?: boolean;
}

/** `SITE:NAME[@FROM][+FOR]`, e.g. `bob:kms-outage@30+20` (seconds after start; FROM may be `signal`). */
function parseFault(v: string): [SiteName, FaultSpec] {
  const m = /^(alice|bob):([a-z-]+(?:,[a-z-]+)*)(?:@(\d+(?:\.\d+)?|signal))?(?:\+(\d+(?:\.\d+)?))?$/.exec(v);
  if (!m) throw new UsageError(`--fault must be SITE:NAME[@FROM][+FOR] (e.g. bob:kms-outage@30+20), got "${v}"`);
  for (const n of m[2]!.split(',')) if (!(n in FAULTS)) throw new UsageError(`--fault: unknown fault "${n}" (known: ${Object.keys(FAULTS).join(', ')})`);
  return [m[1] as SiteName, { fault: m[2]!, ...(m[3] ? { fromS: m[3] === 'signal' ? 'signal' : Number(m[3]) } : {}), ...(m[4] ? { forS: Number(m[4]) } : {}) }];
}

/** `SITE:NAME[,NAME…]` of the replication agents; each fault must belong to the site's role (alice primary, bob replica). */
function parseHsmFaults(values: string[]): Partial<Record<SiteName, string[]>> {
  const out: Partial<Record<SiteName, string[]>> = {};
  for (const v of values) {
    const m = /^(alice|bob):([a-z-]+(?:,[a-z-]+)*)$/.exec(v);
    if (!m) throw new UsageError(`--hsm-fault must be SITE:NAME (e.g. alice:drop-deletes), got "${v}"`);
    const site = m[1] as SiteName;
    for (const n of m[2]!.split(',')) {
      if (!(n in SYNC_FAULTS)) throw new UsageError(`--hsm-fault: unknown fault "${n}" (known: ${Object.keys(SYNC_FAULTS).join(', ')})`);
      const role = SYNC_FAULTS[n as SyncFault].role;
      if (role !== (site === 'alice' ? 'primary' : 'replica')) throw new UsageError(`--hsm-fault: "${n}" belongs to the ${role} agent (${role === 'primary' ? 'alice' : 'bob'})`);
      (out[site] ??= []).push(n);
    }
  }
  return out;
}

function positive(v: string, flag: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`${flag} must be a positive number, got "${v}"`);
  return n;
}

const line = (x: unknown) => process.stdout.write(JSON.stringify(x) + '\n');

/** The labs a command acts on: the one named, or the only one; several need --run-id or --all. */
function selectLabs(o: { runId?: string; all?: boolean }): Array<{ file: string; record: LabRecord }> {
  const all = listRecords(stateDir());
  if (o.runId) {
    const hit = all.filter((r) => r.record.runId === o.runId);
    return hit;
  }
  if (o.all) return all;
  return [defaultLab(all)].filter((r) => r !== undefined);
}

async function up(o: UpOptions): Promise<void> {
  const why = labUnavailable();
  if (why) throw new CannotRunError(`the lab cannot run here: ${why}`);
  const kc = keyControlsFrom(o) as Record<SiteName, KeyControl>; // --key-control has a default: both sites set
  if (!['on', 'off'].includes(o.pqc)) throw new UsageError(`--pqc must be on or off, got "${o.pqc}"`);
  parseMode(o.mode);
  const faults = Object.fromEntries(o.fault.map(parseFault)) as Partial<Record<SiteName, FaultSpec>>;
  const intervalS = parseInterval(o.interval);
  const pqcTimeScale = positive(o.pqcTimeScale, '--pqc-time-scale');
  if (!['on', 'off', 'auto'].includes(o.hsm)) throw new UsageError(`--hsm must be on, off or auto, got "${o.hsm}"`);
  const hsmFaults = parseHsmFaults(o.hsmFault);
  const hsmWhyNot = o.hsm === 'off' ? undefined : hsmUnavailable();
  if (o.hsm === 'on' && hsmWhyNot) throw new CannotRunError(`--hsm on: the lab's tokens cannot be made here: ${hsmWhyNot} (or run with --hsm off)`);
  const hsm = o.hsm === 'on' || (o.hsm === 'auto' && !hsmWhyNot);
  if (o.hsmFault.length && !hsm) throw new UsageError(`--hsm-fault needs the lab's HSM part (--hsm ${o.hsm}${hsmWhyNot ? `: ${hsmWhyNot}` : ''})`);
  if (o.detach) return detach(o);
  // A signal during the build aborts it at once (it removes what it built); a signal once up tears the
  // lab down. Handlers stay installed to the end, so a second Ctrl-C cannot kill us half-way.
  const abort = new AbortController();
  let got: NodeJS.Signals | undefined;
  let onSignal!: (s: NodeJS.Signals) => void;
  const signalled = new Promise<NodeJS.Signals>((resolve) => {
    onSignal = (s) => {
      if (got) return void process.stderr.write(`lab: ${s} again: still tearing down, please wait\n`);
      got = s;
      abort.abort(s);
      resolve(s);
    };
  });
  for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(s, onSignal);
  const exitFor = (s: NodeJS.Signals) => 128 + (osConstants.signals[s] ?? 0); // 130 SIGINT, 143 SIGTERM
  // Only `up` builds a lab: status, down and fault start without the lab's modules (mock KME, PKI: ~200 ms).
  const { Lab } = await import('../lab/lab.ts');
  const lab = await Lab.up({
    keyControl: kc,
    intervalS,
    pqc: o.pqc === 'on',
    pqcTimeScale,
    mode: o.mode,
    faults,
    hsm,
    hsmSyncFaults: hsmFaults,
    runId: o.runId,
    origin: 'cli',
    signal: abort.signal,
    log: o.quiet ? undefined : (l) => process.stderr.write(`${l}\n`),
  }).catch((err: unknown) => {
    if (got) return undefined;
    throw new CannotRunError(`lab up failed (everything it built was removed): ${err instanceof Error ? err.message : String(err)}`);
  });
  if (!lab) {
    process.stderr.write(`lab: ${got} during the build: stopped, everything it built was removed\n`);
    process.exitCode = exitFor(got!);
    return;
  }
  line(lab.info);
  // The progress lines said it already; a failed control is said also under --quiet.
  if (o.quiet && !lab.info.negativeControl?.ok) process.stderr.write(`lab ${lab.runId}: ${controlLine(lab.info.negativeControl)}\n`);
  // The owner: until a signal, or until the lab's processes are gone (reported as they die).
  const ended = await Promise.race([signalled.then((s) => ({ signal: s })), watchProcesses(lab)]);
  if ('signal' in ended) {
    if (!o.quiet) process.stderr.write(`lab ${lab.runId}: ${ended.signal}, tearing down\n`);
  } else process.stderr.write(`lab ${lab.runId}: ${ended.why}; tearing down\n`);
  await lab.down();
  process.exitCode = 'signal' in ended ? EXIT.ok : EXIT.unexpected;
}

/** Reports each lab process that exits, on stderr; resolves once none is left running (the lab is dead). */
async function watchProcesses(lab: Lab): Promise<{ why: string }> {
  const seen = new Set<LabProcess>();
  for (;;) {
    for (const p of lab.processes.filter((x) => x.exitStatus && !seen.has(x))) {
      seen.add(p);
      const e = p.exitStatus!;
      process.stderr.write(`lab ${lab.runId}: ${p.spec.name} (${p.spec.site ?? 'host'}, pid ${p.pid}) exited (${e.signal ?? `code ${e.code}`}): ${lastLines(p.errLog() || p.log())}\n`);
    }
    const running = lab.processes.filter((x) => !x.exitStatus);
    if (!running.length) return { why: `every lab process has exited (${lab.processes.length} of ${lab.processes.length})` };
    await sleep(500);
  }
}

/** Re-runs `lab up` in the background (own session, output to a log) and returns once it is up. */
async function detach(o: UpOptions): Promise<void> {
  const runId = o.runId ?? newRunId();
  const args = process.argv.slice(2).filter((a) => a !== '--detach');
  const log = join(stateDir(), `${runId}.log`);
  const { mkdirSync } = await import('node:fs');
  mkdirSync(stateDir(), { recursive: true, mode: 0o700 });
  const fd = openSync(log, 'w', 0o600);
  const child = spawn(process.execPath, [join(REPO_ROOT, 'bin/qkd-harness.js'), ...args, '--run-id', runId], { detached: true, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  child.unref();
  let exited: number | null | undefined;
  child.on('exit', (c) => (exited = c));
  for (const until = Date.now() + 120_000; Date.now() < until; ) {
    const text = existsSync(log) ? readFileSync(log, 'utf8') : '';
    const info = text.split('\n').find((l) => l.startsWith('{') && l.includes('"runId"'));
    if (info) {
      process.stdout.write(info + '\n');
      return;
    }
    if (exited !== undefined) throw new CannotRunError(`lab up failed: ${text.trim().split('\n').slice(-2).join(' ')}`);
    await sleep(200);
  }
  throw new CannotRunError(`the lab did not come up within 120 s (log: ${log})`);
}

async function status(o: { runId?: string; all?: boolean; json?: boolean }): Promise<void> {
  const labs = selectLabs(o).filter((r) => r.record.info);
  if (!labs.length) throw new CannotRunError(o.runId ? `no lab ${o.runId} is up` : 'no lab is up (start one with `qkd-harness lab up`)');
  let healthy = true;
  for (const { record } of labs) {
    const st = { ...(await labStatus(record.info as LabInfo)), owner: isAlive(record.owner) ? record.owner.pid : null };
    if (o.json) line(st);
    else process.stdout.write(formatStatus(st));
    // What a script gates on: the sites hold different PSKs, or traffic stopped after it had flowed.
    if (!st.pskAgree || Object.values(st.sites).some((x) => x.probe.since !== null && x.probe.down)) healthy = false;
  }
  process.exitCode = healthy ? EXIT.ok : EXIT.unexpected;
}

/** `lab status` for a person: one block per lab, a few lines per site. */
function formatStatus(st: LabStatus & { owner: number | null }): string {
  const out = [`lab ${st.runId} (owner ${st.owner === null ? 'gone: `lab down` cleans up' : `pid ${st.owner}`}) at ${st.at}: PSKs ${st.pskAgree ? 'agree' : 'DIFFER'}${st.setupMs !== undefined ? `; set up in ${(st.setupMs / 1000).toFixed(1)} s` : ''}`];
  out.push(`  ${controlLine(st.negativeControl)}`);
  for (const [site, s] of Object.entries(st.sites)) {
    const age = s.handshakeAgeS === null ? 'never' : `${s.handshakeAgeS} s ago`;
    out.push(`  ${site}: psk ${s.psk}, handshake ${age}, rx ${s.rx} B, tx ${s.tx} B; probe ${s.probe.since === null ? 'no traffic since the negative control' : `${s.probe.ok}/${s.probe.sent} ok, loss ${(s.probe.loss * 100).toFixed(2)} % since the first agreed PSK`}, ${s.probe.down ? 'DOWN now' : 'up'}`);
    if (s.hsm) {
      const a = s.hsm.agent;
      const counts = a?.role === 'primary' ? `sent ${a.sent}${a.pending !== null ? `, pending ${a.pending}` : ''}${a.unreplicable ? `, UNREPLICABLE ${a.unreplicable} (not extractable? see the agent log)` : ''}` : `imported ${a?.imported}, rejected ${a?.rejected}`;
      const agent = a ? `${a.role} ${a.state}${a.remote ? ` (session to ${a.remote})` : ''}, ${counts}` : 'no status';
      out.push(`    token ${s.hsm.token}: ${s.hsm.objects ?? '?'} objects; agent ${agent}`);
    }
    if (s.hsm?.error) out.push(`    hsm: ${s.hsm.error}`);
    if (s.error) out.push(`    error: ${s.error}`);
  }
  return `${out.join('\n')}\n`;
}

async function down(o: { runId?: string; all?: boolean; stale?: boolean }): Promise<void> {
  if (o.stale) {
    line(await cleanupStale(stateDir()));
    return;
  }
  const total: CleanupReport = { runIds: [], processes: 0, namespaces: [], sockets: [], dirs: [] };
  for (const { file, record } of selectLabs(o)) {
    if (isAlive(record.owner) && record.owner.pid !== process.pid) {
      signalGroup(record.owner.pid, 'SIGTERM'); // the lab's owner tears down in order
      for (const until = Date.now() + 30_000; existsSync(file) && Date.now() < until; ) await sleep(100);
      total.runIds.push(record.runId);
    }
    if (existsSync(file)) {
      const r = await teardownRecord(record, file);
      total.runIds.push(...r.runIds.filter((id) => !total.runIds.includes(id)));
      total.processes += r.processes;
      total.namespaces.push(...r.namespaces);
      total.sockets.push(...r.sockets);
      total.dirs.push(...r.dirs);
    }
  }
  line(total);
}

export function register(program: Command): void {
  const lab = program.command('lab').description('the two-site WireGuard lab: network namespaces, wireguard-go, mock KMEs, key control, PQC emulator, probe (docs/lab.md)');
  lab
    .command('up')
    .description('build the lab, print one JSON line (names, addresses, files) and keep it running until SIGINT/SIGTERM or `lab down`')
    .option('--key-control <kc>', 'builtin | exec:COMMAND (run COMMAND with Arnika 1.x environment on both sites)', 'builtin')
    .option('--key-control-alice <kc>', 'override --key-control for alice')
    .option('--key-control-bob <kc>', 'override --key-control for bob')
    .option('--interval <seconds>', 'key-control INTERVAL', '20')
    .option('--pqc <on|off>', 'run the PQC emulators and mix their keys in', 'on')
    .option('--pqc-time-scale <x>', 'Rosenpass timing scale (1: rekey after 120 s, reject after 180 s)', '1')
    .option('--mode <mode>', `Arnika MODE (${MODES.join(', ')})`, 'AtLeastQkdRequired')
    .option('--fault <site:name[@from][+for]>', `inject a fault (repeatable): ${Object.keys(FAULTS).join(', ')}`, (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--hsm <on|off|auto>', 'a SoftHSM2 token per site and the replication agents (auto: when SoftHSM2 and pkcs11js are usable)', 'auto')
    .option('--hsm-fault <site:name>', `fault switch of a replication agent (repeatable; alice = primary, bob = replica): ${Object.keys(SYNC_FAULTS).join(', ')}`, (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--run-id <id>', 'use this run id (6 characters a-z0-9)')
    .option('--detach', 'return once the lab is up; it runs on in the background')
    .option('--quiet', 'no progress on stderr')
    .action((o: UpOptions) => up(o));
  lab
    .command('status')
    .description('per site: PSK fingerprint, latest handshake, rx/tx bytes, probe loss; token label, object count and replication agent; exit 1 when the PSKs differ or the probe is down')
    .option('--run-id <id>', 'the lab (default: the only one)')
    .option('--all', 'every lab that is up')
    .option('--json', 'one JSON line per lab')
    .action((o: { runId?: string; all?: boolean; json?: boolean }) => status(o));
  lab
    .command('down')
    .description('remove everything a lab created (idempotent); --stale: what crashed runs left behind')
    .option('--run-id <id>', 'the lab (default: the only one)')
    .option('--all', 'every recorded lab')
    .option('--stale', 'labs whose owner process is gone, and anything carrying a lab name of no live run')
    .action((o: { runId?: string; all?: boolean; stale?: boolean }) => down(o));
  registerFault(lab, selectLabs);
}
