// One-line descriptions of zod validation issues, shared by every loader and parser that reports them:
// field paths and what is wrong, never the offending values (which could be key material or secrets).

/** The parts of a zod issue these helpers read (zod 4 `$ZodIssue`). */
export interface ZodIssueLike {
  path: readonly PropertyKey[];
  message: string;
  code?: string;
  /** Unknown member names of an `unrecognized_keys` issue. */
  keys?: readonly string[];
}

/** The issue's path as `a.b.0`, or `fallback` for the top level. */
export function issuePath(issue: ZodIssueLike, fallback = '(root)'): string {
  return issue.path.length ? issue.path.map(String).join('.') : fallback;
}

/** The issue's message, naming the unknown members of an `unrecognized_keys` issue. */
export function issueText(issue: ZodIssueLike): string {
  const unknown = issue.code === 'unrecognized_keys' && issue.keys?.length ? ` (unknown: ${issue.keys.join(', ')})` : '';
  return `${issue.message}${unknown}`;
}

/** Up to `max` issues as `path: message; path: message`. */
export function summariseIssues(issues: readonly ZodIssueLike[], max = 5): string {
  return issues
    .slice(0, max)
    .map((i) => `${issuePath(i)}: ${issueText(i)}`)
    .join('; ');
}
