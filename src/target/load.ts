// Loads a target profile: YAML → ${ENV} substitution → schema → paths resolved against the file.
// Every error names the file, the field (with line) and what is wrong.
import { readFileSync, existsSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { isPair, isScalar, LineCounter, parseDocument, type Document } from 'yaml';
import { SitesProfileSchema, TargetProfileSchema, type SitesProfile, type TargetProfile } from './schema.ts';
import { UsageError } from '../cli/exit.ts';
import { issueText, type ZodIssueLike } from '../util/zod-issues.ts';

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

/** A site's HSM PIN (`sites.<site>.hsm.pin`): an unset variable there is not an error (see below). */
const isHsmPin = (path: Path): boolean => path.length === 4 && path[0] === 'sites' && path[2] === 'hsm' && path[3] === 'pin';

/**
 * Replaces ${NAME} in every string scalar; an unset variable is an error naming the field — except in a
 * site's HSM PIN, which is dropped instead (returned per site): one site's missing PIN must not stop
 * commands on another site, or ones that need no PIN; whoever needs it says which variables to set.
 */
function substituteEnv(doc: Document, env: NodeJS.ProcessEnv, fail: (path: Path, msg: string) => never): Record<string, string[]> {
  const unsetPins: Record<string, string[]> = {};
  const drop: Array<{ items: unknown[]; item: unknown }> = [];
  const walk = (node: unknown, path: Path, parent?: { items: unknown[]; item: unknown }): void => {
    if (isScalar(node)) {
      if (typeof node.value === 'string' && node.value.includes('${')) {
        const unset: string[] = [];
        const value = node.value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_m, name: string) => {
          const v = env[name];
          if (v === undefined) {
            if (!isHsmPin(path)) fail(path, `uses \${${name}}, but the environment variable ${name} is not set`);
            unset.push(name);
            return '';
          }
          return v;
        });
        if (unset.length && parent) {
          unsetPins[String(path[1])] = unset;
          drop.push(parent);
        } else node.value = value;
      }
      return;
    }
    const items = (node as { items?: unknown[] } | null)?.items;
    if (!items) return;
    items.forEach((item, i) => {
      if (isPair(item)) walk(item.value, [...path, isScalar(item.key) ? String(item.key.value) : String(item.key)], { items, item });
      else walk(item, [...path, i]);
    });
  };
  walk(doc.contents, []);
  for (const d of drop) d.items.splice(d.items.indexOf(d.item), 1);
  return unsetPins;
}

export interface LoadedProfile extends TargetProfile {
  /** Absolute path of the file it came from (or a description for embedded profiles). */
  source: string;
  /** Per site, the variables its `hsm.pin` names that were not set (the pin was dropped). */
  unsetPinVariables?: Record<string, string[]>;
}

/** The profile file's absolute path and text. @throws ProfileError when it cannot be read. */
function readProfileFile(file: string): { path: string; text: string } {
  const path = resolve(file);
  try {
    return { path, text: readFileSync(path, 'utf8') };
  } catch (err) {
    throw new ProfileError(`target profile ${file}: cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
}

export function loadTargetProfile(file: string, env: NodeJS.ProcessEnv = process.env): LoadedProfile {
  const { path, text } = readProfileFile(file);
  return parseTargetProfile(text, path, env);
}

export function parseTargetProfile(text: string, path: string, env: NodeJS.ProcessEnv = process.env): LoadedProfile {
  const { doc, fail, unsetPins } = readDocument(text, path, env);
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
  return { ...profile, source: path, ...(Object.keys(unsetPins).length ? { unsetPinVariables: unsetPins } : {}) };
}

/** YAML → ${ENV} substitution, with `fail` naming file, line and field (shared by both loaders). */
function readDocument(text: string, path: string, env: NodeJS.ProcessEnv): { doc: Document; fail: (p: Path, msg: string) => never; unsetPins: Record<string, string[]> } {
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
  return { doc, fail, unsetPins: substituteEnv(doc, env, fail) };
}

export interface LoadedSitesProfile extends SitesProfile {
  source: string;
  unsetPinVariables?: Record<string, string[]>;
}

/**
 * The profile as `e2e --target` needs it: `sites` only (src/target/schema.ts SitesProfileSchema); no KME,
 * SAE or certificate file is required or opened. Errors are sentences naming file, line and field.
 */
export function loadSitesProfile(file: string, env: NodeJS.ProcessEnv = process.env): LoadedSitesProfile {
  const { path, text } = readProfileFile(file);
  const { doc, fail, unsetPins } = readDocument(text, path, env);
  const parsed = SitesProfileSchema.safeParse(doc.toJS());
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    fail(issue.path as Path, inWords(issue));
  }
  return { ...parsed.data!, source: path, ...(Object.keys(unsetPins).length ? { unsetPinVariables: unsetPins } : {}) };
}

/** A validator issue as a person would say it (zod's own text reads "Invalid input: expected string, received undefined"). */
export function inWords(issue: ZodIssueLike & { expected?: unknown; values?: readonly unknown[] }): string {
  const missing = / received undefined$/.test(issue.message);
  if (issue.code === 'invalid_type' && missing) return 'is missing';
  if (issue.code === 'invalid_type') {
    const what = { string: 'text', number: 'a number', int: 'a whole number', boolean: 'true or false', object: 'a mapping (name: value lines)', array: 'a list', record: 'a mapping (name: value lines)' }[String(issue.expected)] ?? String(issue.expected);
    return `must be ${what}`;
  }
  if (issue.code === 'unrecognized_keys' && issue.keys?.length) return `has ${issue.keys.length === 1 ? 'a field' : 'fields'} it does not know: ${issue.keys.join(', ')} (a typo?)`;
  if (issue.code === 'invalid_value' && issue.values?.length) return `must be one of ${issue.values.map(String).join(', ')}`;
  return issueText(issue);
}
