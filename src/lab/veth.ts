// The underlay: one veth pair whose ends are created directly inside the two site namespaces (nothing
// appears in the host namespace), addressed from 198.51.100.0/24.
import { SiteDriver } from '../sites/driver.ts';

export interface VethEnd {
  namespace: string;
  name: string;
  address: string;
  prefix: number;
}

export async function addVethPair(a: VethEnd, b: VethEnd): Promise<void> {
  const host = SiteDriver.local('host');
  await host.check(['ip', 'link', 'add', a.name, 'netns', a.namespace, 'type', 'veth', 'peer', 'name', b.name, 'netns', b.namespace]);
  for (const end of [a, b]) {
    await host.check(['ip', '-n', end.namespace, 'addr', 'add', `${end.address}/${end.prefix}`, 'dev', end.name]);
    await host.check(['ip', '-n', end.namespace, 'link', 'set', end.name, 'up']);
  }
}
