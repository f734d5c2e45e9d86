// The configuration of the vitest runs the CLI starts (`conformance`, `e2e`): one project, so the caller's
// own settings (one file at a time against a shared real KMS, its sequencer, its reporters) apply as given.
import { defineConfig } from 'vitest/config';
import { INCLUDE, shared } from './vitest.shared.ts';

export default defineConfig({ test: { ...shared, include: INCLUDE } });
