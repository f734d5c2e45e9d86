// The whole `qkd-harness kpi` load path (src/kpi: engine, closed loop, latency recording, timeline)
// against autocannon on the same mock mTLS keep-alive endpoint (Status at KME A), in the same run. The
// mock runs as its own process (`qkd-harness mock`, key rate 0, a huge pool) so that neither client shares
// its event loop. Prints both rates, the client CPU per request and the ratio (target ≥ 0.8).
// (autocannon connects with rejectUnauthorized: false — fine for a baseline, not for a KPI measurement.)
//
//   npx tsx bench/kpi.bench.ts [seconds per round, default 4] [connections, default 10]
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { LoadEngine } from '../src/kpi/engine.ts';
import { KpiRun } from '../src/kpi/scenarios.ts';
import { rolesOf } from '../src/kpi/target.ts';
import { loadTargetProfile } from '../src/target/load.ts';

interface AutocannonResult {
  requests: { total: number };
  duration: number;
  non2xx: number;
  errors: number;
}
type Autocannon = (o: { url: string; connections: number; duration: number; tlsOptions: object }) => Promise<AutocannonResult>;
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

const seconds = Number(process.argv[2] ?? 4);
const connections = Number(process.argv[3] ?? 10);

const dir = mkdtempSync(join(tmpdir(), 'qkd-kpi-bench-'));
writeFileSync(join(dir, 'mock.yaml'), 'key_rate_per_hour: 0\nprefill: 10000000\nmax_key_count: 10000000\n');
const child = spawn(process.execPath, [join(import.meta.dirname, '..', 'bin', 'qkd-harness.js'), 'mock', '--config', join(dir, 'mock.yaml'), '--quiet'], { stdio: ['ignore', 'pipe', 'inherit'] });
const info = JSON.parse(await new Promise<string>((ok) => createInterface({ input: child.stdout! }).once('line', ok))) as { profile: string };
const roles = rolesOf(loadTargetProfile(info.profile));
const url = `${roles.master.url}/api/v1/keys/${roles.slave.saeId}/status`;

const cpuUs = (since: NodeJS.CpuUsage) => {
  const d = process.cpuUsage(since);
  return d.user + d.system;
};

/** The kpi capacity phase exactly as `qkd-harness kpi` runs it; requests/s and client µs CPU per request. */
async function kpiRound(ms: number): Promise<[number, number]> {
  const engine = new LoadEngine({ timeoutMs: 10_000, maxResponseBytes: 4 << 20, connections });
  const cpu = process.cpuUsage();
  const f = await new KpiRun(engine, roles, { durationMs: ms, concurrency: connections, ratePerS: 20, samples: 1, phases: new Set(['capacity']), allowExhaustion: false, soakMs: 0, soakWindows: 2, recoveryTimeoutMs: 0, progress: () => undefined }).run();
  const used = cpuUs(cpu);
  await engine.close();
  if (f.capacity?.state !== 'measured') throw new Error(`kpi capacity phase: ${f.capacity?.state}: ${(f.capacity as { reason?: string })?.reason}`);
  return [f.capacity.requests_per_s, used / f.capacity.ops];
}

async function autocannonRound(s: number): Promise<[number, number]> {
  const cpu = process.cpuUsage();
  const r = await autocannon({ url, connections, duration: s, tlsOptions: { ca: roles.master.ca, cert: roles.master.cert, key: roles.master.key } });
  if (r.non2xx || r.errors) throw new Error(`autocannon saw ${r.non2xx} non-2xx and ${r.errors} errors`);
  return [r.requests.total / r.duration, cpuUs(cpu) / r.requests.total];
}

try {
  await kpiRound(1000); // warm-up: TLS, JIT, the mock's too
  await autocannonRound(1);
  const kpi: Array<[number, number]> = [];
  const ac: Array<[number, number]> = [];
  for (let i = 0; i < 2; i++) {
    ac.push(await autocannonRound(seconds));
    kpi.push(await kpiRound(seconds * 1000));
  }
  const best = (xs: Array<[number, number]>) => xs.reduce((a, b) => (b[0] > a[0] ? b : a));
  const [k, a] = [best(kpi), best(ac)];
  const ratio = k[0] / a[0];
  console.log(`kpi load path  : ${k[0].toFixed(0)} requests/s, client CPU ${k[1].toFixed(0)} µs/request (Status over mTLS keep-alive, ${connections} connections)`);
  console.log(`autocannon     : ${a[0].toFixed(0)} requests/s, client CPU ${a[1].toFixed(0)} µs/request (same endpoint, same connections)`);
  console.log(`ratio          : ${ratio.toFixed(2)} (target ≥ 0.8) ${ratio >= 0.8 ? 'OK' : 'BELOW TARGET'}`);
  process.exitCode = ratio >= 0.8 ? 0 : 1;
} finally {
  child.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
}
