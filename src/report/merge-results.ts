// One report from several runs (the main job's steps, nightly MODE runs, CI shards): their Allure results
// copied into one directory. Result files are uniquely named (UUIDs), so nothing is overwritten.
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The label the vendor matrix gives each result: which implementation it belongs to (one Allure environment each). */
export const IMPLEMENTATION_LABEL = 'implementation';

/**
 * Copies the allure-results of each of `from` (reports directories) into `reports`'s own, emptied first.
 * With `implementations` (one name per directory), each result also gets the label `implementation`.
 */
export function mergeAllureResults(reports: string, from: string[], implementations?: string[]): string {
  const merged = join(reports, 'allure-results');
  rmSync(merged, { recursive: true, force: true });
  mkdirSync(merged, { recursive: true });
  from.forEach((d, i) => {
    const dir = join(d, 'allure-results');
    if (!existsSync(dir)) return;
    const name = implementations?.[i];
    for (const f of readdirSync(dir)) {
      if (name !== undefined && f.endsWith('-result.json')) {
        const r = JSON.parse(readFileSync(join(dir, f), 'utf8')) as { labels?: Array<{ name: string; value: string }> };
        r.labels = [...(r.labels ?? []).filter((l) => l.name !== IMPLEMENTATION_LABEL), { name: IMPLEMENTATION_LABEL, value: name }];
        writeFileSync(join(merged, f), JSON.stringify(r));
      } else cpSync(join(dir, f), join(merged, f));
    }
  });
  return merged;
}

