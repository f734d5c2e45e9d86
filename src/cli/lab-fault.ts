// `qkd-harness lab fault NAME --site alice|bob --for SECONDS [--run-id ID] [--json]`: an environmental
// fault (src/lab/env-faults.ts) on a running lab, from any shell. The command stays for the window: it
// prints a progress line on stderr once the fault is in effect, undoes it when the time is up (or at
// SIGINT/SIGTERM/SIGHUP: Ctrl-C ends the fault early and restores), then prints the window as one line
// on stdout (JSON with --json). psk-overwrite is instant: it returns at once.
import { constants as osConstants } from 'node:os';
import type { Command } from 'commander';
import { ENV_FAULTS, injectEnvFaultInto, isEnvFaultName, type EnvFaultWindow } from '../lab/env-faults.ts';
import type { LabInfo } from '../lab/info.ts';
import { SITES, type SiteName } from '../lab/names.ts';
import type { LabRecord } from '../lab/state.ts';
import { CannotRunError, UsageError } from './exit.ts';

interface FaultOptions {
  site?: string;
  for?: string;
  runId?: string;
  json?: boolean;
}

/** One line for a person: name, site, start, end and what was done. */
export function formatWindow(w: EnvFaultWindow): string {
  const t = (ms: number) => new Date(ms).toISOString();
  return `${w.name} on ${w.site}: ${t(w.startedAt)} .. ${w.endedAt === undefined ? 'not ended' : t(w.endedAt)}: ${w.detail}`;
}

export function registerFault(lab: Command, selectLabs: (o: { runId?: string }) => Array<{ record: LabRecord }>): void {
  lab
    .command('fault')
    .description(`inject an environmental fault into a running lab for a while (${Object.keys(ENV_FAULTS).join(', ')}); stays until the window ends (Ctrl-C ends it early)`)
    .argument('<name>', 'the fault (docs/lab.md, "Environmental faults")')
    .option('--site <site>', 'alice or bob (underlay-cut: both directions whichever is named)')
    .option('--for <seconds>', 'length of the window in seconds (psk-overwrite: instant, may be 0)')
    .option('--run-id <id>', 'the lab (default: the only one started with `lab up`)')
    .option('--json', 'the window as one JSON line')
    .action((name: string, o: FaultOptions) => fault(name, o, selectLabs));
}

async function fault(name: string, o: FaultOptions, selectLabs: (o: { runId?: string }) => Array<{ record: LabRecord }>): Promise<void> {
  if (!isEnvFaultName(name)) throw new UsageError(`unknown environmental fault "${name}" (known: ${Object.keys(ENV_FAULTS).join(', ')})`);
  if (!o.site || !(SITES as readonly string[]).includes(o.site)) throw new UsageError(`--site must be alice or bob, got "${o.site ?? ''}"`);
  const forS = Number(o.for);
  const instant = name === 'psk-overwrite';
  if (o.for === undefined || !Number.isFinite(forS) || forS < 0 || (!instant && forS === 0) || forS > 86_400) throw new UsageError(`--for must be a number of seconds${instant ? '' : ' above 0'} (at most 86400), got "${o.for ?? ''}"`);
  const labs = selectLabs({ runId: o.runId }).filter((r) => r.record.info && r.record.phase === 'up');
  if (!labs.length) throw new CannotRunError(o.runId ? `no lab ${o.runId} is up` : 'no lab is up (start one with `qkd-harness lab up`)');
  const info = labs[0]!.record.info as LabInfo;
  let got: NodeJS.Signals | undefined;
  let onSignal: (s: NodeJS.Signals) => void = (s) => (got ??= s); // a signal before the fault is in effect: end it at once
  const handler = (s: NodeJS.Signals) => onSignal(s);
  for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(s, handler);
  try {
    const h = await injectEnvFaultInto(info, { name, site: o.site as SiteName, forS }).catch((err: unknown) => {
      throw new CannotRunError(`${name} on ${o.site} of lab ${info.runId}: ${err instanceof Error ? err.message : String(err)}`);
    });
    if (h.window.endedAt === undefined) process.stderr.write(`lab ${info.runId}: ${name} on ${o.site} in effect for ${forS} s (Ctrl-C ends it early): ${h.window.detail}\n`);
    onSignal = (s) => {
      got ??= s;
      void h.end().catch(() => undefined);
    };
    if (got) void h.end().catch(() => undefined);
    const w = await h.ended;
    process.stdout.write(`${o.json ? JSON.stringify(w) : formatWindow(w)}\n`);
    if (w.endedAt === undefined) throw new CannotRunError(`${name} on ${o.site} of lab ${info.runId} could not be undone: ${w.detail}`);
    if (got) process.exitCode = 128 + (osConstants.signals[got] ?? 0);
  } finally {
    for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.off(s, handler);
  }
}
