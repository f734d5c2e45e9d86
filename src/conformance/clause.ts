// A suite file declares its clause's checks once. Under vitest each check becomes one `it` named after
// its requirement ID; outside vitest (the kill matrix, `list`) the same definitions are collected.
import { appendFileSync } from 'node:fs';
import { requirement } from './catalogue.ts';
import { runCheck, describeResult, type CheckDef, type Result } from './check.ts';
import type { Target } from './context.ts';
import { judge, loadExpectations, type Expectations } from './expectations.ts';
import { formatEvidenceList } from './evidence.ts';
import { ENV, openTarget } from './target.ts';
import { propertySeed } from '../report/seed.ts';
import { epicOf, labelOutcome, labelRequirement, outcomeError } from '../report/allure-requirement.ts';

export interface ClauseDef {
  title: string;
  file: string;
  checks: CheckDef[];
}

const registry: ClauseDef[] = [];

/** Clauses defined by the suite files imported so far in this process (outside vitest). */
export function collected(): readonly ClauseDef[] {
  return registry;
}

export async function defineClause(title: string, file: string, checks: CheckDef[]): Promise<ClauseDef> {
  const def = { title, file, checks };
  for (const c of checks) requirement(c.id); // every check names a catalogued requirement
  if (process.env.VITEST && !(globalThis as { qkdCollectOnly?: boolean }).qkdCollectOnly) await registerWithVitest(def);
  else registry.push(def);
  return def;
}

function selected(checks: CheckDef[], env: NodeJS.ProcessEnv): CheckDef[] {
  const grep = env[ENV.grep];
  return grep ? checks.filter((c) => c.id.startsWith(grep)) : checks;
}

async function registerWithVitest(def: ClauseDef): Promise<void> {
  const { describe, it, beforeAll, afterAll } = await import('vitest');
  const allure = await import('allure-js-commons');
  const checks = selected(def.checks, process.env);
  const expFile = process.env[ENV.expectations];
  let target: Target | undefined;
  let expectations: Expectations | undefined;

  // Standard → clause: the Allure tree (parentSuite, suite) follows these two levels.
  describe(epicOf(def.checks[0]?.id ?? 'qkd014/5/1'), () => {
    describe(def.title, () => {
      beforeAll(async () => {
        target = await openTarget();
        const file = expFile ?? target.profile.expectations;
        expectations = file ? loadExpectations(file) : undefined;
      }, 120_000);
      afterAll(async () => {
        await target?.close();
      });
      if (checks.length === 0) it.skip(`no requirement of ${def.title} matches ${process.env[ENV.grep]}`, () => undefined);
      for (const c of checks) {
        const req = requirement(c.id);
        it(`${c.id} ${req.summary}`, async (ctx) => {
          if (!target) throw new Error('the target could not be opened');
          const result = await runCheck(c, target);
          const verdict = judge(c.id, result.outcome, expectations);
          await annotate(allure, result, target, def.title);
          // An outcome the expectations file names passes the test (the run expected it); the label keeps it visible.
          if (verdict.expected) await allure.label('expected', verdict.expected);
          record({ ...result, ...verdict, target: target.profile.name });
          if (verdict.unexpected) {
            const exp = verdict.expected ? ` (expected ${verdict.expected})` : '';
            throw outcomeError(result.outcome, `${describeResult(result)}${exp}`);
          }
          if (result.outcome === 'skip') ctx.skip(result.message);
        }, (c.timeoutMs ?? 30_000) + 5_000);
      }
    });
  });
}

type AllureApi = typeof import('allure-js-commons');

async function annotate(allure: AllureApi, r: Result, target: Target, clause: string): Promise<void> {
  await labelRequirement(allure, r.id, clause);
  if (r.implied) await allure.label('implied', 'true');
  await allure.tag(r.implied ? 'implied' : r.level);
  await labelOutcome(allure, r.outcome);
  await allure.label('vendor', target.profile.name);
  await allure.parameter('profile', target.profileName);
  await allure.parameter('target', target.profile.source, { excluded: true });
  await allure.parameter('seed', String(propertySeed()), { excluded: true });
  if (r.evidence?.length) await allure.attachment('evidence', formatEvidenceList(r.evidence), 'text/plain');
}

function record(row: Result & { unexpected: boolean; stale: boolean; expected?: string; target: string }): void {
  const file = process.env[ENV.results];
  if (file) appendFileSync(file, JSON.stringify(row) + '\n');
}
