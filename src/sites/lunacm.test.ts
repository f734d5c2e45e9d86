// The lunacm HA-status reader: the parser on output in the format of Luna client 10.x
// (`lunacm -c "hagroup listgroups"`, written here: there is no Luna in CI), and the reader through a
// site driver with a stand-in lunacm script and with none installed.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SiteDriver } from './driver.ts';
import { describeHaStatus, parseHaGroups, readHaStatus } from './lunacm.ts';

const HEALTHY = `lunacm (64-bit) v10.4.0-417. Copyright (c) 2021 SafeNet. All rights reserved.

\tAvailable HSMs:

\tSlot Id ->              0
\tLabel ->                qci_cloning
\tSerial Number ->        1543885187
\tModel ->                LunaSA 7.8.4

\tCurrent Slot Id: 0

lunacm:>hagroup listgroups

\t\tHA Group Label:  qci_cloning_ha
\t\tHA Group Number:  11543885187
\t\tHA Group Slot ID: 9
\t\tSynchronization: enabled
\t\tGroup Members: 1543885187, 1543885188
\t\tNeeds sync: no
\t\tStandby Members: <none>

\t\tSlot #    Member S/N                      Member Label    Status
\t\t======    ==========                      ============    ======
\t\t     1    1543885187                      qci_cloning     alive
\t\t     2    1543885188                      qci_cloning     alive

Command Result : No Error
`;

const DEGRADED = `\t\tHA Group Label:  qci_cloning_ha
\t\tHA Group Number:  11543885187
\t\tHA Group Slot ID: 9
\t\tSynchronization: enabled
\t\tGroup Members: 1543885187, 1543885188
\t\tNeeds sync: yes
\t\tStandby Members: 1543885190

\t\tSlot #    Member S/N                      Member Label    Status
\t\t======    ==========                      ============    ======
\t\t     1    1543885187                      qci_cloning     alive
\t\t   ---    1543885188                      qci_cloning     down

\t\tHA Group Label:  export_ha
\t\tHA Group Number:  11543885199
\t\tHA Group Slot ID: 10
\t\tGroup Members: 1543885199
\t\tStandby Members: <none>

\t\tSlot #    Member S/N                      Member Label    Status
\t\t======    ==========                      ============    ======
\t\t     3    1543885199                                      alive

Command Result : No Error
`;

describe('lunacm hagroup listgroups', () => {
  it('parses a healthy group: members alive, synchronization enabled, no sync needed', () => {
    const s = parseHaGroups(HEALTHY);
    expect(s).toEqual({
      result: 'No Error',
      groups: [
        {
          label: 'qci_cloning_ha',
          number: '11543885187',
          slot: '9',
          synchronization: true,
          needsSync: false,
          standby: [],
          members: [
            { slot: '1', serial: '1543885187', label: 'qci_cloning', status: 'alive' },
            { slot: '2', serial: '1543885188', label: 'qci_cloning', status: 'alive' },
          ],
        },
      ],
    });
    expect(describeHaStatus(s)).toEqual(['HA group qci_cloning_ha (slot 9): 2/2 members alive, synchronization enabled, needs sync: no']);
  });

  it('reports a member down, "Needs sync: yes", and fields that are not shown (never assumed)', () => {
    const s = parseHaGroups(DEGRADED);
    expect(s.groups.map((g) => g.label)).toEqual(['qci_cloning_ha', 'export_ha']);
    expect(s.groups[0]).toMatchObject({ needsSync: true, standby: ['1543885190'], members: [{ serial: '1543885187', status: 'alive' }, { serial: '1543885188', status: 'down' }] });
    expect(s.groups[1]).toMatchObject({ members: [{ slot: '3', serial: '1543885199', status: 'alive' }] });
    expect([s.groups[1]!.synchronization, s.groups[1]!.needsSync]).toEqual([undefined, undefined]);
    expect(s.groups[1]!.members[0]).not.toHaveProperty('label');
    const lines = describeHaStatus(s);
    expect(lines[0]).toBe('HA group qci_cloning_ha (slot 9): 1/2 members alive (qci_cloning down), synchronization enabled, needs sync: YES');
    expect(lines[1]).toMatch(/synchronization not shown, needs sync: not shown/);
    expect(describeHaStatus(parseHaGroups('Command Result : 0x300000 (CKR_SESSION_HANDLE_INVALID)\n'))).toEqual(['lunacm: no HA group (Command Result: 0x300000 (CKR_SESSION_HANDLE_INVALID))']);
  });
});

describe('reading the HA status on a site', () => {
  const dir = mkdtempSync(join(tmpdir(), 'qkdh-lunacm-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const script = (name: string, body: string): string => {
    const p = join(dir, name);
    writeFileSync(p, `#!/bin/sh\n${body}\n`);
    chmodSync(p, 0o755);
    return p;
  };

  it('says "not available" where lunacm is not installed', async () => {
    const e = await readHaStatus(new SiteDriver('a', ['env', 'PATH=/nonexistent:/usr/bin:/bin']), { timeoutMs: 20_000 });
    expect(e).toEqual({ available: false, reason: expect.stringMatching(/^not available: lunacm is not installed on site a/) });
  });

  it('reads a healthy and a degraded group (healthy true / false), and a lunacm that hangs or fails', async () => {
    const ok = await readHaStatus(SiteDriver.local('a'), { command: [script('ok.sh', `cat <<'EOT'\n${HEALTHY}EOT`)] });
    expect(ok).toMatchObject({ available: true, healthy: true, lines: [expect.stringMatching(/2\/2 members alive/)] });
    const bad = await readHaStatus(SiteDriver.local('a'), { command: [script('bad.sh', `cat <<'EOT'\n${DEGRADED}EOT`)] });
    expect(bad).toMatchObject({ available: true, healthy: false });
    const hang = await readHaStatus(SiteDriver.local('a'), { command: [script('hang.sh', 'sleep 30')], timeoutMs: 1_000 });
    expect(hang).toEqual({ available: false, reason: expect.stringMatching(/did not finish within 1000 ms/) });
    const fail = await readHaStatus(SiteDriver.local('a'), { command: [script('fail.sh', 'echo "no NTLS link" >&2; exit 4')] });
    expect(fail).toEqual({ available: false, reason: expect.stringMatching(/failed \(exit 4\): no NTLS link/) });
  }, 60_000);
});
