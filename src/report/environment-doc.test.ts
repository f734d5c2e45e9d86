// docs/environment.md stays true: every QKD_*, QKDH_* or FC_* variable the source reads is named there,
// and every one named there still exists in the source. Reads go through process.env.NAME, env['NAME']
// (an injected environment), helpers given the name as a string ('QKD_E2E_ROTATIONS'), constants
// (ENV.target = 'QKD_TARGET') and object keys of the environments the lab hands to its processes — so the
// scan takes each of those forms, and ${NAME} in shell scripts.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const DOC = join(ROOT, 'docs', 'environment.md');
const NAME = '(?:QKDH|QKD|FC)_[A-Z0-9_]*[A-Z0-9]'; // a trailing "_" is a family prefix (QKD_E2E_), not a variable

/** Direct reads, in any file (tests included: QKD_REQUIRE_LAB is read by test files). */
const READS = [new RegExp(`\\benv\\.(${NAME})\\b`, 'g'), new RegExp(`\\benv\\[\\s*['"\`](${NAME})['"\`]\\s*\\]`, 'g')];
/** Names given as data: exact string literals and object keys. Not in src/ and mocks/ test files, which
 *  make up variables of their own for their fixtures (the suites under suites/ are the product). */
const NAMED = [new RegExp(`['"\`](${NAME})['"\`]`, 'g'), new RegExp(`(?:^|[\\s{,])(${NAME})\\s*:(?!:)`, 'gm')];
const SHELL = [new RegExp(`\\$\\{?(${NAME})\\b`, 'g'), new RegExp(`(?:^|\\s|export\\s+)(${NAME})=`, 'gm')];

const SOURCE_DIRS = ['src', 'suites', 'mocks', 'bin', 'scripts', 'bench', '.ci'];
const SKIP_DIRS = new Set(['node_modules', 'dist', 'generated', 'testing-output']);

function files(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names.flatMap((n) => {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) return SKIP_DIRS.has(n) ? [] : files(p);
    return [p];
  });
}

function sourceFiles(): string[] {
  const top = readdirSync(ROOT).filter((n) => /^vitest\..*\.ts$/.test(n)).map((n) => join(ROOT, n));
  const self = fileURLToPath(import.meta.url); // its own made-up names below
  return [...SOURCE_DIRS.flatMap((d) => files(join(ROOT, d))), ...top].filter((f) => f !== self && (/\.(ts|js|mjs|cjs|sh)$/.test(f) || /\/\.ci\/run$/.test(f)));
}

/** Variable → the first file:line that reads or names it. */
export function scanVariables(paths: readonly string[], read: (p: string) => string = (p) => readFileSync(p, 'utf8')): Map<string, string> {
  const found = new Map<string, string>();
  for (const p of paths) {
    const text = read(p);
    const rel = relative(ROOT, p);
    const shell = /\.sh$/.test(p) || /\/\.ci\/run$/.test(p);
    const ownFixtures = /\.test\.ts$/.test(p) && !rel.startsWith('suites/');
    const patterns = shell ? SHELL : ownFixtures ? READS : [...READS, ...NAMED];
    for (const re of patterns) {
      for (const m of text.matchAll(re)) {
        const name = m[1]!;
        if (!found.has(name)) found.set(name, `${rel}:${text.slice(0, m.index).split('\n').length}`);
      }
    }
  }
  return found;
}

/** Whether the page names `name`: literally, or through a family written `PREFIX<WHAT>` (QKD_HSM_PIN_<SITE>). */
export function documents(doc: string, name: string): boolean {
  if (new RegExp(`\\b${name}\\b`).test(doc)) return true;
  return [...doc.matchAll(new RegExp(`(${NAME}_)<[A-Z]+>`, 'g'))].some((m) => name.startsWith(m[1]!));
}

describe('docs/environment.md', () => {
  const doc = readFileSync(DOC, 'utf8');
  const paths = sourceFiles();
  const found = scanVariables(paths);

  it('the scan sees the variables it must (a scan that finds nothing would pass anything)', () => {
    for (const v of ['QKD_REQUIRE_LAB', 'QKD_TARGET', 'QKD_E2E_ROTATIONS', 'QKDH_FAULT', 'QKDH_LAB_STATE_DIR', 'FC_SEED', 'QKD_NIGHTLY']) expect(found.has(v), v).toBe(true);
  });

  it('names every QKD_*, QKDH_* and FC_* variable the source reads', () => {
    const missing = [...found].filter(([name]) => !documents(doc, name)).map(([name, where]) => `${name} (${where})`);
    expect(missing, `docs/environment.md does not mention: ${missing.join(', ')}`).toEqual([]);
  });

  it('names no variable the source no longer has', () => {
    const source = paths.map((p) => readFileSync(p, 'utf8')).join('\n');
    const named = new Set([...doc.matchAll(new RegExp(`\`(${NAME})\``, 'g'))].map((m) => m[1]!));
    const stale = [...named].filter((n) => !new RegExp(`\\b${n}\\b`).test(source));
    expect(stale, `docs/environment.md names variables nothing reads: ${stale.join(', ')}`).toEqual([]);
  });

  it('fails on a variable it does not name, in each form a read takes', () => {
    const forms = {
      'a.ts': 'const x = process.env.QKD_UNDOCUMENTED_A;',
      'b.ts': "const y = env['QKDH_UNDOCUMENTED_B'];",
      'c.ts': "const z = num('QKD_E2E_UNDOCUMENTED_C', 2);",
      'd.ts': 'spawn(cmd, { env: { ...base, QKDH_UNDOCUMENTED_D: "1" } });',
      'e.sh': 'n="${FC_UNDOCUMENTED_E:-3}"',
      'f.test.ts': "const t = process.env.QKD_UNDOCUMENTED_F === '1'; const own = 'QKDH_TEST_OWN_PIN';",
    };
    const seen = scanVariables(Object.keys(forms).map((f) => join(ROOT, 'src', f)), (p) => forms[p.split('/').pop() as keyof typeof forms]);
    expect([...seen.keys()].sort()).toEqual(['FC_UNDOCUMENTED_E', 'QKDH_UNDOCUMENTED_B', 'QKDH_UNDOCUMENTED_D', 'QKD_E2E_UNDOCUMENTED_C', 'QKD_UNDOCUMENTED_A', 'QKD_UNDOCUMENTED_F']);
    for (const name of seen.keys()) expect(documents(doc, name), name).toBe(false);
    expect(documents(doc, 'QKD_HSM_PIN_SITE2')).toBe(true); // a family member
  });
});
