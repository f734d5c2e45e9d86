// How the lab starts its own TypeScript processes: this Node with tsx's loader, by absolute paths, so
// they run the same from any working directory and inside any namespace.
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

const require = createRequire(import.meta.url);

/** `node --import <tsx loader> <script>`: the argv to run a TypeScript entry point of this repository. */
export function tsNode(script: string, args: string[] = []): string[] {
  const loader = require.resolve('tsx');
  return [process.execPath, '--import', new URL(`file://${loader}`).href, fileURLToPath(new URL(`../../${script}`, import.meta.url)), ...args];
}
