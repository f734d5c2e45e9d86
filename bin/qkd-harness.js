#!/usr/bin/env node
// The compiled CLI (dist/, `npm run build`) when it is current, else the TypeScript sources through tsx's
// loader: a clone runs without a build, a build saves each start the loader's ~300 ms (src/util/entry.js).
import { runEntry } from '../src/util/entry.js';

await runEntry('src/cli/main.ts');
