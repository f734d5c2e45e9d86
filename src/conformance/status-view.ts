// A Status (clause 6.1) read member by member: the members that are valid stay usable when others are
// not, so one bad member is one finding (qkd014/5.2/1) instead of blinding every check that reads Status.
import { zStatus } from '../../generated/etsi014-v1/sdk/zod.gen.js';
import type { Status } from '../kme/client.ts';
import { CannotEvaluate } from './verdict.ts';

type Member = keyof Status;

/** Each member of a Status body checked alone against the generated schema: the valid ones, and why the others are not. */
export function readStatusMembers(body: unknown): { valid: Partial<Status>; invalid: Map<Member, string> } {
  const valid: Partial<Status> = {};
  const invalid = new Map<Member, string>();
  if (!body || typeof body !== 'object' || Array.isArray(body)) {
    for (const m of Object.keys(zStatus.shape) as Member[]) invalid.set(m, 'the body is not a JSON object');
    return { valid, invalid };
  }
  const o = body as Record<string, unknown>;
  for (const [m, schema] of Object.entries(zStatus.shape) as Array<[Member, { safeParse(v: unknown): { success: boolean; error?: { issues: Array<{ message: string }> } } }]>) {
    const v = o[m];
    if (v === undefined) {
      if (!schema.safeParse(undefined).success) invalid.set(m, 'missing');
      continue;
    }
    if (v === null && m === 'status_extension') continue; // a null optional member is qkd014/6/1's finding
    const r = schema.safeParse(v);
    if (r.success) (valid as Record<string, unknown>)[m] = v;
    else invalid.set(m, `${v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v}, ${r.error?.issues[0]?.message ?? 'invalid'}`);
  }
  return { valid, invalid };
}

/**
 * A Status whose invalid or missing members throw CannotEvaluate when read (naming the member and the
 * call), so only the checks that truly need such a member become `error`.
 */
export function statusView(body: unknown, what: string): Status {
  const { valid, invalid } = readStatusMembers(body);
  return new Proxy(valid as Status, {
    get(target, prop, receiver) {
      if (typeof prop === 'string' && invalid.has(prop as Member)) {
        throw new CannotEvaluate(`needs Status member ${prop}, which ${what} answered ${invalid.get(prop as Member) === 'missing' ? 'without' : `as invalid (${invalid.get(prop as Member)})`}; see qkd014/5.2/1`);
      }
      return Reflect.get(target, prop, receiver);
    },
  });
}
