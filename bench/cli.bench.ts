// CLI start-up against `node -e 0`, each started N times one after another on this machine in this run:
// `qkd-harness --version` (the whole start path: entry choice, command registry, commander) and
// `qkd-harness lab status` with no lab up (the lab command's modules), both as bin/qkd-harness.js runs
// them — compiled from dist/ — and, for comparison, `--version` from the sources through tsx's loader.
// Prints medians and ratios (target ≤ 2 for the compiled CLI).
//
//   npm run build && npx tsx bench/cli.bench.ts [runs, default 20]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { distIsFresh, PACKAGE_ROOT } from '../src/util/entry.js';

const runs = Number(process.argv[2] ?? 20);
const BIN = join(PACKAGE_ROOT, 'bin', 'qkd-harness.js');
const SOURCES = ['--import', pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href, join(PACKAGE_ROOT, 'src', 'cli', 'main.ts')];
// An empty lab state directory: `lab status` answers "no lab is up" (exit 3) whatever runs on this host.
const stateDir = mkdtempSync(join(tmpdir(), 'qkd-cli-bench-'));
const env = { ...process.env, NODE_OPTIONS: undefined, QKDH_LAB_STATE_DIR: stateDir };

if (!distIsFresh()) console.log('dist/ is missing or older than the sources: bin/qkd-harness.js runs them through tsx (`npm run build` first)');

function median(argv: string[], exitCode = 0): number {
  const ms: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = process.hrtime.bigint();
    const r = spawnSync(process.execPath, argv, { stdio: 'ignore', timeout: 30_000, env, cwd: stateDir });
    if (r.status !== exitCode) throw new Error(`${argv.join(' ')} exited ${r.status ?? r.signal}, not ${exitCode}`);
    ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  ms.sort((a, b) => a - b);
  return ms[Math.floor(ms.length / 2)]!;
}

const cases: Array<[name: string, argv: string[], exitCode?: number]> = [
  ['node -e 0', ['-e', '0']],
  ['qkd-harness --version', [BIN, '--version']],
  ['qkd-harness lab status', [BIN, 'lab', 'status'], 3],
  ['--version via tsx (sources)', [...SOURCES, '--version']],
];
try {
  // Interleaved warm-up so the page cache serves every case equally.
  for (const [, argv, code] of cases) median(argv, code);
  const [baseline, ...rest] = cases.map(([name, argv, code]) => [name, median(argv, code)] as const);
  console.log(`${baseline![0].padEnd(30)} ${baseline![1].toFixed(0).padStart(5)} ms (median of ${runs})`);
  for (const [name, ms] of rest) console.log(`${name.padEnd(30)} ${ms.toFixed(0).padStart(5)} ms   ratio ${(ms / baseline![1]).toFixed(2)}`);
  console.log('target: ratio ≤ 2 for the compiled CLI (bin/qkd-harness.js)');
} finally {
  rmSync(stateDir, { recursive: true, force: true });
}
