// Request parsing for the key methods: GET query strings (only the parameters the standard allows) and
// POST bodies validated with the zod schemas generated from specs/etsi-qkd-014.yaml.
import type { z } from 'zod';
import { zKeyIds, zKeyRequest } from '../../../generated/etsi014-v1/sdk/zod.gen.ts';
import { parseJsonObject } from '../body.ts';
import { badRequest } from '../errors.ts';
import { summariseIssues } from '../../../src/util/zod-issues.ts';

export type KeyRequest = z.infer<typeof zKeyRequest>;

/** The request of a key method (enc_keys or dec_keys) as its handler gets it: the form, the query, the body bytes. */
export interface KeyMethodInput {
  method: 'GET' | 'POST';
  query: URLSearchParams;
  body: Buffer;
}

/** One line naming the fields that are wrong, never their values. */
const problems = (error: z.ZodError): string => summariseIssues(error.issues, 3);

/** A query parameter given once; undefined when absent; 400 when repeated. */
function single(query: URLSearchParams, name: string): string | undefined {
  const all = query.getAll(name);
  if (all.length > 1) throw badRequest(`the query parameter ${name} is given more than once`);
  return all[0];
}

function queryInt(query: URLSearchParams, name: string): number | undefined {
  const v = single(query, name);
  if (v === undefined) return undefined;
  if (!/^[0-9]{1,15}$/.test(v)) throw badRequest(`the query parameter ${name} must be a positive integer`);
  return Number(v);
}

/** GET enc_keys: no parameters, or only `number` and/or `size` (clause 5.3). */
export function encKeysQuery(query: URLSearchParams, ignoreValues: boolean): KeyRequest {
  for (const name of new Set(query.keys())) {
    if (name !== 'number' && name !== 'size') throw badRequest(`GET enc_keys takes only number and size as query parameters (got ${name.slice(0, 40)}); use POST for other request fields`);
  }
  if (ignoreValues) return {}; // deviation: get-query-ignored
  const out: KeyRequest = {};
  const number = queryInt(query, 'number');
  const size = queryInt(query, 'size');
  if (number !== undefined) out.number = number;
  if (size !== undefined) out.size = size;
  return out;
}

/** POST enc_keys: a Key request object; an empty body is `{}` (ambiguity 5). */
export function encKeysBody(bytes: Buffer): KeyRequest {
  const parsed = zKeyRequest.safeParse(parseJsonObject(bytes, 'Key request', {}));
  if (!parsed.success) throw badRequest(`the Key request is malformed: ${problems(parsed.error)}`);
  return parsed.data;
}

/** GET dec_keys: exactly one `key_ID` (clause 5.4). */
export function decKeysQuery(query: URLSearchParams): string[] {
  for (const name of new Set(query.keys())) {
    if (name !== 'key_ID') throw badRequest(`GET dec_keys takes only the key_ID query parameter (got ${name.slice(0, 40)}); use POST for more`);
  }
  const id = single(query, 'key_ID');
  if (id === undefined || id === '') throw badRequest('GET dec_keys needs one key_ID query parameter');
  return [id];
}

/** POST dec_keys: a Key IDs object with at least one key_ID, none twice. */
export function decKeysBody(bytes: Buffer): string[] {
  const parsed = zKeyIds.safeParse(parseJsonObject(bytes, 'Key IDs'));
  if (!parsed.success) throw badRequest(`the Key IDs body is malformed: ${problems(parsed.error)}`);
  const ids = parsed.data.key_IDs.map((k) => k.key_ID);
  if (ids.length === 0) throw badRequest('key_IDs must name at least one key');
  if (ids.some((id) => id === '')) throw badRequest('a key_ID must not be empty');
  if (new Set(ids).size !== ids.length) throw badRequest('key_IDs names the same key_ID more than once');
  return ids;
}
