// Network namespaces: one per site. Created with `ip netns add`, so they are visible to `ip netns list`
// and removable by name even after the process that made them died.
import { SiteDriver } from '../sites/driver.ts';

const host = SiteDriver.local('host');

export async function addNamespace(name: string): Promise<void> {
  await host.check(['ip', 'netns', 'add', name]);
  // Loopback up: the site's own services (KME, key control, probe echo) talk over it too.
  await host.check(['ip', '-n', name, 'link', 'set', 'lo', 'up']);
}

export async function listNamespaces(): Promise<string[]> {
  const out = await host.check(['ip', 'netns', 'list']);
  return out
    .split('\n')
    .map((l) => l.split(' ')[0]!)
    .filter(Boolean);
}

/** Pids of every process whose network namespace is `name` (what `ip netns pids` reports). */
export async function pidsIn(name: string): Promise<number[]> {
  const r = await host.run(['ip', 'netns', 'pids', name]);
  if (r.code !== 0) return [];
  return r.stdout
    .split('\n')
    .filter((l) => /^\d+$/.test(l))
    .map(Number);
}

/** Deletes a namespace (its veth and tun devices go with it); absent is fine. */
export async function deleteNamespace(name: string): Promise<void> {
  const r = await host.run(['ip', 'netns', 'del', name]);
  if (r.code !== 0 && !/No such file|not exist|Invalid/.test(r.stderr)) {
    throw new Error(`cannot delete namespace ${name}: ${r.stderr.trim()}`);
  }
}
