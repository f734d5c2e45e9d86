// @ts-check
// Where the package's files are, and which form of its code runs: the compiled JavaScript under dist/
// (`npm run build`) when it is current, else the TypeScript sources through tsx's loader (a clone that was
// never built, or sources edited since the build). Plain JavaScript: bin/qkd-harness.js needs it before
// any loader exists. The build copies it to dist/src/util/ (allowJs), so compiled modules use that copy.
//
//   node src/util/entry.js mocks/keyctl/main.ts [args…]   runs one entry point in this process
import { readdirSync, realpathSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const HERE = fileURLToPath(import.meta.url);

/** Whether this is the compiled copy (dist/src/util/entry.js): then everything runs compiled. */
export const COMPILED = HERE.endsWith(`${sep}dist${sep}src${sep}util${sep}entry.js`);

/** The package root (where package.json is), with a trailing separator: the clone or the installed package. */
export const PACKAGE_ROOT = fileURLToPath(new URL(COMPILED ? '../../../' : '../../', import.meta.url));

export const DIST = join(PACKAGE_ROOT, 'dist');

/** Written by `npm run build` after tsc succeeded; its mtime is the build's. */
export const BUILD_STAMP = join(DIST, '.build-stamp');

/** The build's configuration: only a clone has it (package.json `files` leaves it out). */
const BUILD_CONFIG = join(PACKAGE_ROOT, 'tsconfig.build.json');
/** What the build compiles: in a clone, a newer file here makes dist/ stale. */
const SOURCE_DIRS = ['src', 'mocks', 'generated'];
const SOURCE_FILES = [join(PACKAGE_ROOT, 'tsconfig.json'), BUILD_CONFIG];

/**
 * Whether `dir` holds a file newer than `since` (ms); test files are not compiled, so they do not count.
 * @param {string} dir
 * @param {number} since
 * @returns {boolean}
 */
function newerUnder(dir, since) {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return false; // an installed package may ship without some of them
  }
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      if (newerUnder(p, since)) return true;
    } else if (/\.[mc]?[jt]s$/.test(e.name) && !e.name.endsWith('.test.ts') && statSync(p).mtimeMs > since) {
      return true;
    }
  }
  return false;
}

/** @type {boolean | undefined} */
let fresh;

/**
 * Whether dist/ is current: built (its stamp exists) and, in a clone, no source newer than the stamp. An
 * installed package cannot rebuild, so its dist/ counts as current (file times after an unpack or a copy
 * say nothing about the build). Once per process: the walk over a clone's ~30 directories and ~240 files
 * took 10–20 ms on a 2-core VM; an installed package's check is two stats.
 */
export function distIsFresh() {
  if (fresh === undefined) {
    let built;
    try {
      built = statSync(BUILD_STAMP).mtimeMs;
    } catch {
      return (fresh = false);
    }
    const mtime = (/** @type {string} */ f) => {
      try {
        return statSync(f).mtimeMs;
      } catch {
        return undefined;
      }
    };
    if (mtime(BUILD_CONFIG) === undefined) return (fresh = true);
    fresh = !SOURCE_FILES.some((f) => (mtime(f) ?? 0) > built) && !SOURCE_DIRS.some((d) => newerUnder(join(PACKAGE_ROOT, d), built));
  }
  return fresh;
}

/** Whether this process's children run compiled: a compiled process's always do (its own build judged fresh). */
const compiled = () => COMPILED || distIsFresh();

/**
 * `src/x/y.ts` → the absolute path of the form that runs.
 * @param {string} script
 */
function resolveEntry(script) {
  return compiled() ? join(DIST, script.replace(/\.ts$/, '.js')) : join(PACKAGE_ROOT, script);
}

/**
 * The argv that runs one of the package's entry points (`script` relative to the package root, e.g.
 * `src/hsm/runner-main.ts`) in a new Node process, by absolute path so it runs the same from any
 * working directory and inside any namespace: `node dist/…/x.js`, or `node --import tsx src/…/x.ts`.
 * @param {string} script
 * @param {string[]} [args]
 * @returns {string[]}
 */
export function entryArgv(script, args = []) {
  if (compiled()) return [process.execPath, resolveEntry(script), ...args];
  const loader = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  return [process.execPath, '--import', loader, resolveEntry(script), ...args];
}

/**
 * Runs one of the package's entry points in this process (bin/qkd-harness.js: the CLI).
 * @param {string} script
 */
export async function runEntry(script) {
  // Not a literal: vitest bundles this module into its configuration (src/report/reporters.ts) and
  // would report tsx as unresolved where a package was installed without it.
  const tsxApi = 'tsx/esm/api';
  if (!compiled()) (await import(tsxApi)).register();
  return import(pathToFileURL(resolveEntry(script)).href);
}

// `node src/util/entry.js SCRIPT [args…]`: the script sees the argv it would have been started with.
if (process.argv[1]?.endsWith('entry.js') && realpathSync(process.argv[1]) === HERE && process.argv[2]) {
  const script = process.argv[2];
  process.argv.splice(1, 2, resolveEntry(script));
  await runEntry(script);
}
