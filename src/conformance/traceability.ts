// Which test covers which requirement: test names start with their requirement ID (`it('psk/3 …')`,
// `check('qkd014/5.3/1', …)`), so the suites' sources are the traceability matrix.
import { readFileSync } from 'node:fs';
import { listFiles } from '../report/list-files.ts';
import { join, relative } from 'node:path';
import { catalogueNames, loadCatalogue, type Requirement } from './catalogue.ts';
import { ROOT } from './run.ts';

export interface TraceRow extends Requirement {
  catalogue: string;
  tests: Array<{ file: string; line: number }>;
}

// A call's first argument that starts with an ID: it('psk/3 …'), test.prop([…])('psk/9 …'), check('qkd014/4/1', …).
const ID_IN_TEST = /\(\s*['"`]((?:qkd014\/[0-9.]+|[a-z]+)\/\d+)[\s'"`]/g;

export function traceability(): TraceRow[] {
  const covered = new Map<string, Array<{ file: string; line: number }>>();
  for (const file of listFiles(join(ROOT, 'suites')).filter((f) => f.endsWith('.test.ts'))) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(ID_IN_TEST)) {
      const line = text.slice(0, m.index).split('\n').length;
      const list = covered.get(m[1]!) ?? [];
      list.push({ file: relative(ROOT, file), line });
      covered.set(m[1]!, list);
    }
  }
  return catalogueNames().flatMap((name) => loadCatalogue(name).map((r) => ({ ...r, catalogue: name, tests: covered.get(r.id) ?? [] })));
}
