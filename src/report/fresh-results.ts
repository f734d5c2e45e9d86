// A vitest reporter that empties a run's own results before anything is written: without it
// allure-results kept every earlier run, and the newest result per test won — one passing re-run after a
// failing one showed an all-green report. Only the run's own outputs go; the Allure history
// (history.jsonl beside them) is what carries over between runs.
import { rmSync } from 'node:fs';
import { join } from 'node:path';

/** The files and directories a run writes under its reports directory (src/report/reporters.ts). */
export function runOutputs(dir: string): string[] {
  return [join(dir, 'allure-results'), join(dir, 'junit.xml'), join(dir, 'summary.json')];
}

export default class FreshResults {
  constructor(private readonly o: { dir: string }) {}

  onInit(): void {
    for (const p of runOutputs(this.o.dir)) rmSync(p, { recursive: true, force: true });
  }
}
