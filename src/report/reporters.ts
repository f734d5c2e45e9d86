// The vitest reporters every run writes: JUnit for CI gates, allure-results for the HTML report.
// reportMatchers is off: allure-vitest would otherwise record every expect() value — key material included.
import { join } from 'node:path';

export function reportersFor(dir: string): Array<[string, Record<string, unknown>]> {
  return [
    ['junit', { outputFile: join(dir, 'junit.xml') }],
    ['allure-vitest/reporter', { resultsDir: join(dir, 'allure-results'), reportMatchers: false }],
  ];
}
