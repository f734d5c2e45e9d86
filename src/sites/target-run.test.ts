// A real deployment is observed only through its sites' command prefixes. Here the "deployment" is a lab
// and the prefixes are `ip netns exec NS`: the observer sees the rotation on both sites and the bash
// probe (run through the driver) sees the tunnel come up. Needs the lab (root, wireguard-go).
import { afterAll, describe, expect, it } from 'vitest';
import { Lab } from '../lab/lab.ts';
import { labUnavailable } from '../lab/prerequisites.ts';
import { observeTarget, targetSites } from './target-run.ts';
import { rotations } from './timeline.ts';

const why = labUnavailable();
const mustRun = process.env.QKD_REQUIRE_LAB === '1';
let lab: Lab | undefined;

describe.skipIf(Boolean(why) && !mustRun)(`target sites through drivers${why ? ` (skipped: ${why})` : ''}`, () => {
  afterAll(async () => {
    await lab?.down();
  }, 30_000);

  it('observes rotations and probes across the tunnel through exec prefixes only', async () => {
    if (why) throw new Error(`QKD_REQUIRE_LAB=1 but the lab cannot run: ${why}`);
    lab = await Lab.up({ intervalS: 6, pqc: false, hsm: false });
    const sites = Object.fromEntries(
      (['alice', 'bob'] as const).map((s) => {
        const i = lab!.info.sites[s];
        return [s, { exec: i.exec, wireguard: { interface: i.wireguard.interface, peer: i.wireguard.peer }, probe: { host: lab!.info.sites[s === 'alice' ? 'bob' : 'alice'].overlay, port: 7 } }];
      }),
    );
    expect(targetSites({ sites }).map((s) => s.driver.prefix[3])).toEqual([lab.info.sites.alice.namespace, lab.info.sites.bob.namespace]);
    expect(() => targetSites({ sites: { alice: sites.alice! } })).toThrow(/suites need two/);
    const run = await observeTarget({ sites }, { rotations: 1, tailMs: 9_000, maxMs: 45_000, pollMs: 300 });
    const rots = rotations(run);
    expect(rots.length).toBeGreaterThanOrEqual(1);
    expect(rots[0]!.skewMs).not.toBeNull();
    expect(run.config.handshakes).toBe('natural');
    for (const s of ['alice', 'bob']) {
      const p = run.probes[s]!;
      expect(p.sent).toBeGreaterThan(5);
      expect(p.ok, `${s} probe answered after the rotation`).toBeGreaterThan(0);
      expect(run.series[s]!.handshakes.length).toBeGreaterThanOrEqual(1);
    }
  }, 90_000);
});
