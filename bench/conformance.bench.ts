// How long the whole ETSI 014 suite takes against the local mock pair, against a baseline measured in the
// same run: the same number of requirements, each served by one plain Status + enc_keys + dec_keys round.
// Run: npx tsx bench/conformance.bench.ts   (target: the suite well under a minute)
import { startEmbeddedTarget } from '../src/conformance/embedded.ts';
import { allChecks, runInProcess } from '../src/conformance/inprocess.ts';

const target = await startEmbeddedTarget({ strict: true });
try {
  const n = (await allChecks()).length;
  const { master, slave } = target.roles;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    await master.client.status(slave.saeId);
    const k = await master.client.encKeys(slave.saeId, {});
    await slave.client.decKeys(master.saeId, k.data!.keys.map((x) => x.key_ID));
  }
  const baseline = performance.now() - t0;
  const t1 = performance.now();
  const findings = await runInProcess(target);
  const suite = performance.now() - t1;
  const bad = [...findings].filter(([, f]) => f.kind === 'fail' || f.kind === 'error').length;
  process.stdout.write(
    `conformance suite: ${findings.size} requirements in ${(suite / 1000).toFixed(2)} s (${bad} fail/error)\n` +
      `baseline (${n} × status+enc_keys+dec_keys): ${(baseline / 1000).toFixed(2)} s\n` +
      `ratio suite/baseline: ${(suite / baseline).toFixed(1)}  — target: suite < 60 s\n`,
  );
} finally {
  await target.close();
}
