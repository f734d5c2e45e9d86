// Requirement catalogues (specs/requirements/*.yaml): every checkable statement with a stable ID.
import { readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { z } from 'zod';

export const TOLERANCES = ['status-code', 'error-body', 'message-text', 'content-type', 'keys-member', 'get-query', 'sae-ids'] as const;
export type Tolerance = (typeof TOLERANCES)[number];

const RequirementSchema = z.object({
  id: z.string().regex(/^[a-z0-9]+\/[0-9.]+\/\d+$|^[a-z]+\/\d+$/, 'must look like qkd014/<clause>/<n> or psk/<n>'),
  clause: z.string().optional(),
  level: z.enum(['MUST', 'SHOULD', 'MAY']),
  summary: z.string().min(1),
  tolerates: z.array(z.enum(TOLERANCES)).default([]),
  source: z.string().optional(),
});

const CatalogueSchema = z.object({ standard: z.string().optional(), requirements: z.array(RequirementSchema).min(1) });

export type Requirement = z.infer<typeof RequirementSchema>;
export type Level = Requirement['level'];

export const REQUIREMENTS_DIR = resolve(fileURLToPath(new URL('../../specs/requirements', import.meta.url)));

const cache = new Map<string, Requirement[]>();

/** One catalogue by name (`etsi014` → specs/requirements/etsi014.yaml). */
export function loadCatalogue(name: string): Requirement[] {
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
  cache.set(name, parsed.data.requirements);
  return parsed.data.requirements;
}

export function catalogueNames(): string[] {
  return readdirSync(REQUIREMENTS_DIR)
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => f.slice(0, -5))
    .sort();
}

export function requirement(id: string): Requirement {
  const name = id.startsWith('qkd014/') ? 'etsi014' : id.split('/')[0]!;
  const r = loadCatalogue(name).find((x) => x.id === id);
  if (!r) throw new Error(`requirement ${id} is not in specs/requirements/${name}.yaml`);
  return r;
}
