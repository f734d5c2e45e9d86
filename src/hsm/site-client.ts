// One site's token as the end-to-end HSM suite sees it: "run this request there, under a deadline".
// The same checks run against the lab's SoftHSM sites (the request runs in a child process on this
// host, with the site's SOFTHSM2_CONF) and against a deployment's sites (the request runs as
// `qkd-harness hsm … --json` on the site, through its command prefix, PIN on stdin:
// src/sites/hsm-remote.ts).
import type { HsmAddress } from './address.ts';
import type { HsmRequest, HsmResult } from './operations.ts';
import { runHsm } from './runner.ts';

export interface HsmSiteClient {
  /** The site's name (alice, bob, or the profile's). */
  readonly site: string;
  /** Human description for evidence: module path and token label, and how it is reached. */
  readonly describe: string;
  /**
   * Runs one request on the site's token.
   * @param o.timeoutMs deadline of the whole request (ms; default 30 000)
   * @throws HsmDeadlineError / CannotRunError when the site or module does not answer in time;
   *   UsageError or Pkcs11CallError when the token refuses (no such key, CKR_*).
   */
  run(request: HsmRequest, o?: { timeoutMs?: number }): Promise<HsmResult>;
}

export const DEFAULT_SITE_TIMEOUT_MS = 30_000;

/** A token reachable from this host (a lab site, or a module installed here). */
export function localSiteClient(site: string, address: HsmAddress, pin: string): HsmSiteClient {
  return {
    site,
    describe: `${address.location.module} token ${address.location.token ?? `slot ${address.location.slot}`} (local)`,
    run: (request, o) => runHsm(address.location, pin, request, { timeoutMs: o?.timeoutMs ?? DEFAULT_SITE_TIMEOUT_MS, env: address.env }),
  };
}
