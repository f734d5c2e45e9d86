// How one requirement's result reads in Allure: grouped by standard → clause → requirement (not by file),
// severity from the level, the requirement ID as Allure ID, a link to the clause, and an outcome mapped
// to an Allure status on purpose (a vendor's auditor reads "Failed" and "Broken" differently):
//   pass → passed · fail → failed · error → broken · warn/info → passed, labelled (tag "warning") · skip → skipped
import { requirement, standardOf, type Level } from '../conformance/catalogue.ts';

type Allure = typeof import('allure-js-commons');
export type Outcome = 'pass' | 'fail' | 'warn' | 'info' | 'skip' | 'error';

/** Allure severity per requirement level. */
export const SEVERITY: Record<Level, 'critical' | 'normal' | 'minor'> = { MUST: 'critical', SHOULD: 'normal', MAY: 'minor' };

/** The concern a catalogue covers, where it is not a published standard (its `standard:` line). */
const CONCERN: Record<string, string> = {
  psk: 'PSK derivation (Arnika, HKDF-SHA3-256, RFC 5869)',
  wg: 'WireGuard end to end (key control, PQC, rekey)',
  hsm: 'HSM partition replication over the tunnel',
  kpi: 'KMS key-delivery KPIs',
};

/** Where the clause can be read. Only ETSI 014 has a public text to point at. */
const CLAUSE_LINK: Record<string, string> = {
  qkd014: 'https://www.etsi.org/deliver/etsi_gs/QKD/001_099/014/01.01.01_60/gs_qkd014v010101p.pdf',
};

/** The standard or concern an ID belongs to (Allure epic and parent suite). */
export function epicOf(id: string): string {
  const prefix = id.split('/')[0]!;
  return standardOf(id) ?? CONCERN[prefix] ?? prefix;
}

/**
 * The labels of requirement `id`: epic = standard or concern, feature = `group` (the clause title, or the
 * suite), story = the requirement, severity from the level, Allure ID = `id`.
 */
export function requirementLabels(id: string, group: string): Array<{ name: string; value: string }> {
  const r = requirement(id);
  return [
    { name: 'epic', value: epicOf(id) },
    { name: 'feature', value: group },
    { name: 'story', value: `${id} ${r.summary}` },
    { name: 'ALLURE_ID', value: id },
    { name: 'severity', value: SEVERITY[r.level] },
    { name: 'requirement', value: id },
    { name: 'level', value: r.level },
  ];
}

/** The clause link of requirement `id`, where the standard has a public text. */
export function requirementLink(id: string): { url: string; name: string } | undefined {
  const url = CLAUSE_LINK[id.split('/')[0]!];
  const clause = requirement(id).clause;
  return url && clause ? { url, name: `clause ${clause}` } : undefined;
}

/**
 * Labels the current Allure test as requirement `id` (requirementLabels, and the clause link). The suite
 * tree comes from the describe blocks: name the outer one `epicOf(id)` and the inner one `group`.
 */
export async function labelRequirement(allure: Allure, id: string, group: string): Promise<void> {
  for (const l of requirementLabels(id, group)) await allure.label(l.name, l.value);
  const link = requirementLink(id);
  if (link) await allure.link(link.url, link.name);
}

/** Labels the outcome; warn and info pass in Allure, so they carry a visible tag instead. */
export async function labelOutcome(allure: Allure, outcome: Outcome): Promise<void> {
  await allure.label('outcome', outcome);
  if (outcome === 'warn') await allure.tag('warning');
  if (outcome === 'info') await allure.tag('info');
}

/** A requirement the target does not meet: Allure files it under "Failed" (its name marks an assertion). */
export class RequirementFailed extends Error {
  override name = 'AssertionError';
}

/** The harness could not judge: Allure files it under "Broken". */
export class CannotJudge extends Error {
  override name = 'CannotJudge';
}

/** The error to throw for an outcome the run did not expect: fail → RequirementFailed, anything else → CannotJudge. */
export function outcomeError(outcome: Outcome, message: string): Error {
  return outcome === 'fail' ? new RequirementFailed(message) : new CannotJudge(message);
}
