// What the harness needs from the host, one check per prerequisite, each naming the Debian package that
// provides it: `qkd-harness doctor` prints them, `doctor --fix` installs the missing packages (root).
import { existsSync } from 'node:fs';
import { bindingUnavailable } from '../hsm/binding.ts';
import { softhsmUnavailable } from '../hsm/softhsm.ts';
import { onPath } from '../lab/prerequisites.ts';

/** What a missing prerequisite costs: nothing runs, the lab, the HSM leg, or only the browser check of the report. */
export type Needed = 'harness' | 'lab' | 'hsm' | 'report-check';

export interface Check {
  name: string;
  needed: Needed;
  ok: boolean;
  /** What was found, or what is missing and how to get it. */
  detail: string;
  /** Debian packages that provide it (what `--fix` installs). */
  packages: string[];
}

const MIN_NODE = [20, 19] as const;

function nodeCheck(): Check {
  const [major, minor] = process.versions.node.split('.').map(Number) as [number, number];
  const ok = major > MIN_NODE[0] || (major === MIN_NODE[0] && minor >= MIN_NODE[1]);
  return { name: 'Node.js', needed: 'harness', ok, detail: `${process.versions.node}${ok ? '' : ` (needs ≥ ${MIN_NODE.join('.')})`}`, packages: [] };
}

function tool(name: string, bin: string, pkg: string, needed: Needed): Check {
  const ok = onPath(bin);
  return { name, needed, ok, detail: ok ? `${bin} found` : `${bin} is missing (Debian package ${pkg})`, packages: [pkg] };
}

function chromium(): Check {
  const bin = ['chromium', 'chromium-browser', 'google-chrome'].find(onPath);
  return { name: 'Chromium (headless report check)', needed: 'report-check', ok: bin !== undefined, detail: bin ? `${bin} found` : 'no chromium on PATH (Debian package chromium)', packages: ['chromium'] };
}

/** Every check, in the order a person fixes them. */
export function runChecks(): Check[] {
  const root = typeof process.getuid !== 'function' || process.getuid() === 0;
  const softhsm = softhsmUnavailable();
  const binding = bindingUnavailable();
  return [
    nodeCheck(),
    { name: 'root', needed: 'lab', ok: root, detail: root ? 'running as root' : 'not root: the lab needs network namespaces (run as root)', packages: [] },
    { name: '/dev/net/tun', needed: 'lab', ok: existsSync('/dev/net/tun'), detail: existsSync('/dev/net/tun') ? 'present' : 'missing: wireguard-go needs a TUN device (in a container: --device /dev/net/tun --cap-add NET_ADMIN)', packages: [] },
    tool('ip (iproute2)', 'ip', 'iproute2', 'lab'),
    tool('wireguard-go', 'wireguard-go', 'wireguard-go', 'lab'),
    tool('wg (wireguard-tools)', 'wg', 'wireguard-tools', 'lab'),
    tool('nft (nftables)', 'nft', 'nftables', 'lab'),
    tool('openssl', 'openssl', 'openssl', 'harness'),
    { name: 'SoftHSM2', needed: 'hsm', ok: !softhsm, detail: softhsm ?? 'libsofthsm2.so and softhsm2-util found', packages: ['softhsm2', 'p11-kit-modules'] },
    { name: 'PKCS#11 binding (pkcs11js)', needed: 'hsm', ok: !binding, detail: binding ?? 'loads', packages: [] },
    chromium(),
  ];
}

/** The Debian packages that would fix the failed checks. */
export function missingPackages(checks: Check[]): string[] {
  return [...new Set(checks.filter((c) => !c.ok).flatMap((c) => c.packages))];
}
