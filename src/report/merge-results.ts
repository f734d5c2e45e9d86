// One report from several runs (the main job's steps, nightly MODE runs, CI shards): their Allure results
// copied into one directory. Result files are uniquely named (UUIDs), so nothing is overwritten.
import { cpSync, existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

/** Copies the allure-results of each of `from` (reports directories) into `reports`'s own, emptied first. */
export function mergeAllureResults(reports: string, from: string[]): string {
  const merged = join(reports, 'allure-results');
  rmSync(merged, { recursive: true, force: true });
  mkdirSync(merged, { recursive: true });
  for (const d of from) {
    const dir = join(d, 'allure-results');
    if (!existsSync(dir)) continue;
    for (const f of readdirSync(dir)) cpSync(join(dir, f), join(merged, f));
  }
  return merged;
}

