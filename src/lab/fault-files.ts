// Where a lab keeps the fault control files of its mocks (src/lab/env-faults.ts writes them, the KME and
// the PQC emulator of the site re-read them: mocks/kme/faults-file.ts). Under the site's directory of the
// lab dir, so teardown removes them with it.
import { join } from 'node:path';
import type { SiteName } from './names.ts';

/** The KME's control file (`qkd-harness mock --faults-file`): windows `hang`, `unavailable`. */
export function kmeFaultsFile(labDir: string, site: SiteName): string {
  return join(labDir, site, 'kme-faults.json');
}

/** The PQC emulator's control file (`mocks/pqc/main.ts --faults-file`): windows `stale`, `stop`. */
export function pqcFaultsFile(labDir: string, site: SiteName): string {
  return join(labDir, site, 'pqc-faults.json');
}
