// The common, harmless-to-read field deviations in KME answers, undone before schema validation so every
// check can still judge counts, sizes and bytes — and each recorded once as a format issue for the
// data-format requirements (null optional members: qkd014/6/1; "Keys": qkd014/6.3/3; UTF-8: qkd014/6/2).
import { isUtf8 } from 'node:buffer';

export type FormatIssueKind = 'null-optional' | 'keys-member' | 'invalid-utf8';

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
 * A copy of a parsed 2xx body with null optional members removed and a differently spelt `keys` renamed,
 * and the issues found (kinds and JSON paths only). `shape` says which optional members the body has.
 */
export function normalizeBody(body: unknown, shape: 'status' | 'key-container'): { body: unknown; issues: FormatIssue[] } {
  const issues: FormatIssue[] = [];
  if (!isObject(body)) return { body, issues };
  const o: Json = { ...body };
  if (shape === 'status') {
    dropNull(o, 'status_extension', '', issues);
    return { body: o, issues };
  }
  const member = keysMember(o);
  if (member && member !== 'keys') {
    o.keys = o[member];
    delete o[member];
    issues.push({ kind: 'keys-member', message: `the key container's array is "${member}", not "keys"` });
  }
  dropNull(o, 'key_container_extension', '', issues);
  if (Array.isArray(o.keys)) {
    o.keys = o.keys.map((k: unknown, i) => {
      if (!isObject(k)) return k;
      const copy = { ...k };
      dropNull(copy, 'key_ID_extension', `keys[${i}].`, issues);
      dropNull(copy, 'key_extension', `keys[${i}].`, issues);
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
