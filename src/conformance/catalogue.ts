// Requirement catalogues (specs/requirements/*.yaml): every checkable statement with a stable ID.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { z } from 'zod';
import { PACKAGE_ROOT } from '../util/entry.js';

/** The common field deviations the lenient profile tolerates (one cause, one tolerance: in every check). */
export const TOLERANCES = ['status-code', 'error-body', 'message-text', 'content-type', 'keys-member', 'get-query', 'sae-ids', 'null-optional'] as const;
export type Tolerance = (typeof TOLERANCES)[number];

const RequirementSchema = z.object({
  id: z.string().regex(/^[a-z0-9]+\/[0-9.]+\/\d+$|^[a-z]+\/\d+$/, 'must look like qkd014/<clause>/<n> or psk/<n>'),
  clause: z.string().optional(),
  level: z.enum(['MUST', 'SHOULD', 'MAY']),
  summary: z.string().min(1),
  /** The harness's own hardening advice, not a "shall" of the standard: reported at most as `warn`. */
  implied: z.boolean().default(false),
  /** Why the level is what it is, where that is not obvious from the standard's wording. */
  rationale: z.string().optional(),
  source: z.string().optional(),
  /** What the requirement expects per Arnika MODE, where that differs (wg/15 … wg/21: environmental faults). */
  modes: z.partialRecord(z.enum(['QkdAndPqcRequired', 'AtLeastQkdRequired', 'AtLeastPqcRequired', 'EitherQkdOrPqcRequired']), z.string().min(1)).optional(),
});

const ToleranceSchema = z.object({ clause: z.string(), summary: z.string().min(1) });

const CatalogueSchema = z.object({
  standard: z.string().optional(),
  tolerances: z.partialRecord(z.enum(TOLERANCES), ToleranceSchema).optional(),
  requirements: z.array(RequirementSchema).min(1),
});

export type Requirement = z.infer<typeof RequirementSchema>;
export type Level = Requirement['level'];

export const REQUIREMENTS_DIR = join(PACKAGE_ROOT, 'specs', 'requirements');

const cache = new Map<string, z.infer<typeof CatalogueSchema>>();

/** One catalogue by name (`etsi014` → specs/requirements/etsi014.yaml). */
export function loadCatalogue(name: string): Requirement[] {
  return catalogue(name).requirements;
}

function catalogue(name: string): z.infer<typeof CatalogueSchema> {
  const hit = cache.get(name);
  if (hit) return hit;
  const file = join(REQUIREMENTS_DIR, `${name}.yaml`);
  const parsed = CatalogueSchema.safeParse(parse(readFileSync(file, 'utf8')));
  if (!parsed.success) {
    const i = parsed.error.issues[0]!;
    throw new Error(`${file}: field ${i.path.join('.')} ${i.message}`);
  }
  const ids = new Set<string>();
  for (const r of parsed.data.requirements) {
    if (ids.has(r.id)) throw new Error(`${file}: requirement ${r.id} is listed twice`);
    ids.add(r.id);
  }
  cache.set(name, parsed.data);
  return parsed.data;
}

/** A tolerated deviation kind as the ETSI 014 catalogue describes it (clause and summary). */
export function tolerance(kind: Tolerance): { clause: string; summary: string } {
  return catalogue('etsi014').tolerances?.[kind] ?? { clause: '?', summary: kind };
}

export function catalogueNames(): string[] {
  return readdirSync(REQUIREMENTS_DIR)
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => f.slice(0, -5))
    .sort();
}

/** Catalogue file of an ID's prefix: qkd014/… → etsi014, psk/… → psk, wg/… → wg. */
const CATALOGUE_OF: Record<string, string> = { qkd014: 'etsi014' };

const byId = new Map<string, Requirement>();

export function requirement(id: string): Requirement {
  const hit = byId.get(id);
  if (hit) return hit;
  const prefix = id.split('/')[0]!;
  const name = CATALOGUE_OF[prefix] ?? prefix;
  const r = loadCatalogue(name).find((x) => x.id === id);
  if (!r) throw new Error(`requirement ${id} is not in specs/requirements/${name}.yaml`);
  byId.set(id, r);
  return r;
}

/** The `standard:` line of the catalogue an ID belongs to (e.g. "ETSI GS QKD 014 V1.1.1 (2019-02)"), if it has one. */
export function standardOf(id: string): string | undefined {
  const prefix = id.split('/')[0]!;
  return catalogue(CATALOGUE_OF[prefix] ?? prefix).standard;
}
