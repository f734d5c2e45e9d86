// How the harness starts its own processes (lab daemons, PKCS#11 workers): by absolute paths, so they
// run the same from any working directory and inside any namespace — compiled JavaScript when dist/ is
// current, else TypeScript through tsx's loader (src/util/entry.js decides).
export { PACKAGE_ROOT as REPO_ROOT, entryArgv } from '../util/entry.js';
