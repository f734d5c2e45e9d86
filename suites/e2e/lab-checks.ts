// The lab's own requirements (specs/requirements/wg.yaml): wg/22, the negative control that proves the
// instruments before any verdict, and wg/23, the wire budget per rotation on the underlay. Like
// checks.ts, each returns a verdict with counts, times and fingerprints only; `error` when the harness
// could not judge (counters unreadable, counters that saw nothing while rotations happened).
import type { LabInfo } from '../../src/lab/info.ts';
import { WIRE_PROTOCOLS, type LabRun, type WireProtocol } from '../../src/lab/observe.ts';
import { percentile, rotations } from '../../src/sites/timeline.ts';
import type { Verdict } from './checks.ts';

/** wg/22: the lab's negative control passed (different PSKs carried nothing, one equal PSK carried traffic). */
export function negativeControlVerdict(info: LabInfo | undefined): Verdict {
  if (!info) return { id: 'wg/22', outcome: 'skip', summary: "a target's sites are not built by the harness: their PSKs are not the harness's to set", evidence: {} };
  const nc = info.negativeControl;
  if (!nc) return { id: 'wg/22', outcome: 'error', summary: `lab ${info.runId} was built without its negative control (negativeControl: false): its instruments are unproven`, evidence: {} };
  const evidence = { negativeControl: nc };
  if (!nc.ok) return { id: 'wg/22', outcome: 'fail', summary: `negative control failed: ${nc.why}`, evidence };
  return { id: 'wg/22', outcome: 'pass', summary: `different PSKs for ${(nc.mismatch.ms / 1000).toFixed(1)} s: no probe answer and no handshake on either site; one equal PSK: answers and a handshake on both sites after ${(nc.match.ms / 1000).toFixed(1)} s`, evidence };
}

/** The wire budget of wg/23 per rotation and protocol (key control, KMS link). */
export interface WireBudget {
  bytes: number;
  packets: number;
}

/** QKD_E2E_WIRE_BUDGET_BYTES / _PACKETS, default 64 KiB and 200 packets per rotation and protocol. */
export function wireBudgetFromEnv(env: NodeJS.ProcessEnv = process.env): WireBudget {
  const get = (name: string, dflt: number) => {
    const v = env[name];
    if (v === undefined || v === '') return dflt;
    const n = Number(v);
    if (!Number.isInteger(n) || n <= 0) throw new Error(`${name} must be a positive integer, got "${v}"`);
    return n;
  };
  return { bytes: get('QKD_E2E_WIRE_BUDGET_BYTES', 64 * 1024), packets: get('QKD_E2E_WIRE_BUDGET_PACKETS', 200) };
}

/** The budgeted protocols: what the key control itself causes on the underlay. */
export const BUDGETED: readonly WireProtocol[] = ['key-control', 'kms-link'];

/** Per protocol, the median and maximum per rotation (packets, bytes). Pure. */
export function wirePerRotation(run: Pick<LabRun, 'wire'>): Record<WireProtocol | 'wg-handshake', { packetsP50: number | null; bytesP50: number | null; packetsMax: number | null; bytesMax: number | null }> {
  const rows = run.wire.rows;
  const of = (pick: (r: (typeof rows)[number]) => { packets: number; bytes: number } | undefined) => {
    const v = rows.map(pick).filter((x): x is { packets: number; bytes: number } => x !== undefined);
    const max = (a: number[]) => (a.length ? Math.max(...a) : null);
    return { packetsP50: percentile(v.map((x) => x.packets), 50), bytesP50: percentile(v.map((x) => x.bytes), 50), packetsMax: max(v.map((x) => x.packets)), bytesMax: max(v.map((x) => x.bytes)) };
  };
  return {
    ...(Object.fromEntries(WIRE_PROTOCOLS.map((p) => [p, of((r) => r.protocols[p])])) as Record<WireProtocol, ReturnType<typeof of>>),
    'wg-handshake': of((r) => r.wireguardHandshake),
  };
}

/**
 * wg/23: per observed rotation, the key-control and KMS-link traffic on the underlay stays within the
 * budget. `error` when the counters could not be read, when rotations happened but no row was counted,
 * or when a protocol counted nothing in a rotation (blind counters: a rotation needs a key_ID on the
 * key-control link and a key reservation on the KMS link).
 */
export function wireBudget(run: LabRun, budget: WireBudget): Verdict {
  const rows = run.wire.rows;
  const evidence = { where: run.wire.where, budget, rows, perRotation: wirePerRotation(run) };
  const seen = rotations(run).length;
  const errors: string[] = [];
  if (run.wire.error) errors.push(run.wire.error);
  if (seen && !rows.length) errors.push(`${seen} rotations observed but no rotation's traffic was counted`);
  for (const r of rows) for (const p of BUDGETED) if (r.protocols[p].packets === 0) errors.push(`rotation ${r.rotation}: no ${p} packet counted although the PSK changed (counters blind?)`);
  if (!seen) errors.push('no rotation observed: nothing to judge');
  if (errors.length) return { id: 'wg/23', outcome: 'error', summary: errors.slice(0, 4).join('; '), evidence };
  const problems = rows.flatMap((r) =>
    BUDGETED.flatMap((p) => {
      const c = r.protocols[p];
      return c.bytes > budget.bytes || c.packets > budget.packets ? [`rotation ${r.rotation}: ${p} ${c.packets} packets / ${c.bytes} B (budget ${budget.packets} / ${budget.bytes} B)`] : [];
    }),
  );
  const per = evidence.perRotation;
  const text = BUDGETED.map((p) => `${p} p50 ${per[p].packetsP50} packets / ${per[p].bytesP50} B, max ${per[p].packetsMax} / ${per[p].bytesMax} B`).join('; ');
  if (problems.length) return { id: 'wg/23', outcome: 'fail', summary: problems.slice(0, 5).join('; '), evidence };
  return { id: 'wg/23', outcome: 'pass', summary: `${rows.length} rotations within ${budget.packets} packets / ${budget.bytes} B each: ${text}`, evidence };
}
