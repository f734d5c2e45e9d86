// Loads a target profile: YAML → ${ENV} substitution → schema → paths resolved against the file.
// Every error names the file, the field (with line) and what is wrong.
import { readFileSync, existsSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { isPair, isScalar, LineCounter, parseDocument, type Document } from 'yaml';
import { TargetProfileSchema, type TargetProfile } from './schema.ts';
import { UsageError } from '../cli/exit.ts';
import { issueText } from '../util/zod-issues.ts';

export class ProfileError extends UsageError {
  override name = 'ProfileError';
}

type Path = ReadonlyArray<string | number>;

function locate(doc: Document, lc: LineCounter, path: Path): string {
  for (let n = path.length; n >= 0; n--) {
    const node = doc.getIn(path.slice(0, n), true) as { range?: [number, number, number] } | undefined;
    if (node?.range) {
      const { line, col } = lc.linePos(node.range[0]);
      return `:${line}:${col}`;
    }
  }
  return '';
}

const fieldName = (path: Path): string => (path.length ? path.join('.') : '(top level)');

/** Replaces ${NAME} in every string scalar; an unset variable is an error naming the field. */
function substituteEnv(doc: Document, env: NodeJS.ProcessEnv, fail: (path: Path, msg: string) => never): void {
  const walk = (node: unknown, path: Path): void => {
    if (isScalar(node)) {
      if (typeof node.value === 'string' && node.value.includes('${')) {
        node.value = node.value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_m, name: string) => {
          const v = env[name];
          if (v === undefined) fail(path, `uses \${${name}}, but the environment variable ${name} is not set`);
          return v;
        });
      }
      return;
    }
    const items = (node as { items?: unknown[] } | null)?.items;
    if (!items) return;
    items.forEach((item, i) => {
      if (isPair(item)) walk(item.value, [...path, isScalar(item.key) ? String(item.key.value) : String(item.key)]);
      else walk(item, [...path, i]);
    });
  };
  walk(doc.contents, []);
}

export interface LoadedProfile extends TargetProfile {
  /** Absolute path of the file it came from (or a description for embedded profiles). */
  source: string;
}

export function loadTargetProfile(file: string, env: NodeJS.ProcessEnv = process.env): LoadedProfile {
  const path = resolve(file);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ProfileError(`target profile ${file}: cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  return parseTargetProfile(text, path, env);
}

export function parseTargetProfile(text: string, path: string, env: NodeJS.ProcessEnv = process.env): LoadedProfile {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  const fail = (p: Path, msg: string): never => {
    throw new ProfileError(`target profile ${path}${locate(doc, lc, p)}: field ${fieldName(p)} ${msg}`);
  };
  const yamlError = doc.errors[0];
  if (yamlError) {
    const { line, col } = lc.linePos(yamlError.pos[0]);
    throw new ProfileError(`target profile ${path}:${line}:${col}: not valid YAML (${yamlError.message.split('\n')[0]})`);
  }
  substituteEnv(doc, env, fail);
  const parsed = TargetProfileSchema.safeParse(doc.toJS());
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    fail(issue.path as Path, issueText(issue));
  }
  const profile = parsed.data as TargetProfile;
  const base = dirname(path);
  const file = (p: Path, value: string): string => {
    const abs = isAbsolute(value) ? value : resolve(base, value);
    if (!existsSync(abs)) fail(p, `names ${value}, which does not exist (resolved to ${abs})`);
    return abs;
  };
  // TLS files are absent only for plain-HTTP KMEs (the schema requires them for https://).
  for (const [name, kme] of Object.entries(profile.kmes)) if (kme.ca) kme.ca = file(['kmes', name, 'ca'], kme.ca);
  for (const role of ['master', 'slave', 'outsider'] as const) {
    const sae = profile.saes[role];
    if (!sae) continue;
    if (sae.cert) sae.cert = file(['saes', role, 'cert'], sae.cert);
    if (sae.key) sae.key = file(['saes', role, 'key'], sae.key);
  }
  const expired = profile.negative?.expired_client;
  if (expired) {
    expired.cert = file(['negative', 'expired_client', 'cert'], expired.cert);
    expired.key = file(['negative', 'expired_client', 'key'], expired.key);
  }
  if (profile.expectations) profile.expectations = file(['expectations'], profile.expectations);
  return { ...profile, source: path };
}
