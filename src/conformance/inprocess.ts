// The ETSI 014 checks without vitest: collected from the suite files and run one after another against
// a target. The kill matrix uses this to run the whole suite once per mock deviation, quickly.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { collected, type ClauseDef } from './clause.ts';
import { evaluate, type CheckDef } from './check.ts';
import type { Target } from './context.ts';
import { ETSI014_SUITES } from './run.ts';
import type { Finding } from './verdict.ts';

let loading: Promise<readonly ClauseDef[]> | undefined;

/** Imports every suite file in collect-only mode and returns their clause definitions. */
export function collectEtsi014(): Promise<readonly ClauseDef[]> {
  loading ??= (async () => {
    (globalThis as { qkdCollectOnly?: boolean }).qkdCollectOnly = true;
    for (const f of readdirSync(ETSI014_SUITES).filter((n) => n.endsWith('.test.ts')).sort()) await import(pathToFileURL(join(ETSI014_SUITES, f)).href);
    return collected();
  })();
  return loading;
}

/** Every check, destructive ones (that empty the pool) last. */
export async function allChecks(): Promise<CheckDef[]> {
  const all = (await collectEtsi014()).flatMap((c) => c.checks);
  return [...all.filter((c) => !c.destructive), ...all.filter((c) => c.destructive)];
}

/** Runs every check (or those whose ID starts with `grep`) sequentially: findings by requirement ID. */
export async function runInProcess(target: Target, grep?: string): Promise<Map<string, Finding>> {
  const out = new Map<string, Finding>();
  for (const c of await allChecks()) {
    if (grep && !c.id.startsWith(grep)) continue;
    out.set(c.id, (await evaluate(c, target)).finding);
  }
  return out;
}
