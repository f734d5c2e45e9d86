// Fixes fast-check's seed so property-test names (and Allure history ids) are stable between runs;
// FC_SEED overrides it and FC_NUM_RUNS raises the run count (the nightly profile).
import fc from 'fast-check';
import { propertySeed, propertyRuns } from './src/report/seed.ts';

fc.configureGlobal({ seed: propertySeed(), numRuns: propertyRuns() });
