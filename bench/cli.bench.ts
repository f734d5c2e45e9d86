// CLI start-up: `qkd-harness --version` (the whole start path: the loader, the command registry, commander)
// against `node -e 0`, each started N times one after another on this machine in this run. Prints both
// medians and their ratio (target ≤ 2; a compiled dist/ without the TypeScript loader is what meets it).
//
//   npx tsx bench/cli.bench.ts [runs, default 20]
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const runs = Number(process.argv[2] ?? 20);
const BIN = join(import.meta.dirname, '..', 'bin', 'qkd-harness.js');

function median(argv: string[]): number {
  const ms: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = process.hrtime.bigint();
    const r = spawnSync(process.execPath, argv, { stdio: 'ignore', timeout: 30_000 });
    if (r.status !== 0) throw new Error(`${argv.join(' ')} exited ${r.status ?? r.signal}`);
    ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  ms.sort((a, b) => a - b);
  return ms[Math.floor(ms.length / 2)]!;
}

// Interleaved warm-up so the page cache serves both equally.
median(['-e', '0']);
median([BIN, '--version']);
const baseline = median(['-e', '0']);
const cli = median([BIN, '--version']);
console.log(`node -e 0:               ${baseline.toFixed(0)} ms (median of ${runs})`);
console.log(`qkd-harness --version:   ${cli.toFixed(0)} ms (median of ${runs})`);
console.log(`ratio: ${(cli / baseline).toFixed(2)} (target ≤ 2)`);
