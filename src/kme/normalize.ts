// The common, harmless-to-read field deviations in KME answers, undone before schema validation so every
// check can still judge counts, sizes and bytes — and each recorded once as a format issue for the
// data-format requirements (null or mistyped optional members: qkd014/6/1; "Keys": qkd014/6.3/3; UTF-8: qkd014/6/2).
import { isUtf8 } from 'node:buffer';

export type FormatIssueKind = 'null-optional' | 'invalid-optional' | 'keys-member' | 'invalid-utf8';

/** One presentation deviation seen in an answer: what, where (a JSON path), never values. */
export interface FormatIssue {
  kind: FormatIssueKind;
  message: string;
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => !!v && typeof v === 'object' && !Array.isArray(v);

/** The key container member spelt another way ("Keys", "KEYS"), when `keys` itself is absent. */
function keysMember(o: Json): string | undefined {
  if ('keys' in o) return 'keys';
  return Object.keys(o).find((k) => k.toLowerCase() === 'keys' && Array.isArray(o[k]));
}

/** Drops `member` from `o` when it is null, recording it. */
function dropNull(o: Json, member: string, path: string, issues: FormatIssue[]): void {
  if (Object.hasOwn(o, member) && o[member] === null) {
    delete o[member];
    issues.push({ kind: 'null-optional', message: `${path}${member} is null (an optional member must be left out or be an object)` });
  }
}

/**
 * Drops the optional extension `member` from `o` when it is neither null nor an object (clause 6 types
 * every extension as an object), recording it: the keys around it are still judged.
 */
function dropMistyped(o: Json, member: string, path: string, issues: FormatIssue[]): void {
  const v = o[member];
  if (!Object.hasOwn(o, member) || v === null || isObject(v)) return;
  delete o[member];
  issues.push({ kind: 'invalid-optional', message: `${path}${member} is ${Array.isArray(v) ? 'an array' : `a ${typeof v}`} (an optional extension member must be left out or be an object)` });
}

/**
 * A copy of a parsed body with null optional members removed (mistyped extensions too, in a key
 * container) and a differently spelt `keys` renamed, and the issues found (kinds and JSON paths only).
 * `shape` says which optional members the body has: a 2xx Status or Key container, or an Error (6.5),
 * whose optional `details` may be null.
 */
export function normalizeBody(body: unknown, shape: 'status' | 'key-container' | 'error'): { body: unknown; issues: FormatIssue[] } {
  const issues: FormatIssue[] = [];
  if (!isObject(body)) return { body, issues };
  const o: Json = { ...body };
  if (shape === 'status' || shape === 'error') {
    dropNull(o, shape === 'status' ? 'status_extension' : 'details', '', issues);
    return { body: o, issues };
  }
  const member = keysMember(o);
  if (member && member !== 'keys') {
    o.keys = o[member];
    delete o[member];
    issues.push({ kind: 'keys-member', message: `the key container's array is "${member}", not "keys"` });
  }
  dropNull(o, 'key_container_extension', '', issues);
  dropMistyped(o, 'key_container_extension', '', issues);
  if (Array.isArray(o.keys)) {
    o.keys = o.keys.map((k: unknown, i) => {
      // Copied only when there is something to drop: a container of 10⁶ keys is not held twice.
      if (!isObject(k) || !(Object.hasOwn(k, 'key_ID_extension') || Object.hasOwn(k, 'key_extension'))) return k;
      const copy = { ...k };
      for (const member of ['key_ID_extension', 'key_extension']) {
        dropNull(copy, member, `keys[${i}].`, issues);
        dropMistyped(copy, member, `keys[${i}].`, issues);
      }
      return copy;
    });
  }
  return { body: o, issues: collapse(issues) };
}

/** Many keys with the same null member are one issue ("keys[*].key_extension … (×128)"). */
function collapse(issues: FormatIssue[]): FormatIssue[] {
  const byText = new Map<string, { issue: FormatIssue; n: number }>();
  for (const i of issues) {
    const text = i.message.replace(/^keys\[\d+\]/, 'keys[*]');
    const hit = byText.get(text);
    if (hit) hit.n++;
    else byText.set(text, { issue: { ...i, message: text }, n: 1 });
  }
  return [...byText.values()].map(({ issue, n }) => (n > 1 ? { ...issue, message: `${issue.message} (×${n})` } : issue));
}

/** Whether a body is UTF-8 as JSON must be (RFC 8259 section 8.1); an empty body is. */
export function utf8Issue(body: Uint8Array): FormatIssue | undefined {
  return body.length === 0 || isUtf8(body) ? undefined : { kind: 'invalid-utf8', message: 'the body is not valid UTF-8 (RFC 8259 section 8.1)' };
}

/** key_ID and key of each entry of a key container, whatever the container member is called. */
export function containerKeys(body: unknown): Array<{ key_ID: string; key?: string }> {
  if (!isObject(body)) return [];
  const member = keysMember(body);
  const list = member ? body[member] : undefined;
  if (!Array.isArray(list)) return [];
  return list.filter(isObject).flatMap((k) => (typeof k.key_ID === 'string' ? [{ key_ID: k.key_ID, ...(typeof k.key === 'string' ? { key: k.key } : {}) }] : []));
}
