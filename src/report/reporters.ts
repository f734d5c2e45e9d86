// The vitest reporters every run writes: JUnit for CI gates, allure-results for the HTML report — after
// the run's previous outputs are removed (src/report/fresh-results.ts).
// reportMatchers is off: allure-vitest would otherwise record every expect() value — key material included.
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../util/entry.js';

// The TypeScript source (vitest loads it) also when this module runs compiled: it ships with the package.
const FRESH = join(PACKAGE_ROOT, 'src', 'report', 'fresh-results.ts');

export function reportersFor(dir: string): Array<[string, Record<string, unknown>]> {
  return [
    [FRESH, { dir }],
    ['junit', { outputFile: join(dir, 'junit.xml') }],
    ['allure-vitest/reporter', { resultsDir: join(dir, 'allure-results'), reportMatchers: false }],
  ];
}
