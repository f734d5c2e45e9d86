// Shared by the PSK suites: vector loading, byte comparison and key arbitraries that print as
// fingerprints, so neither assertion failures nor fast-check counterexamples show key material.
import { readFileSync } from 'node:fs';
import * as allure from 'allure-js-commons';
import fc from 'fast-check';
import { beforeEach } from 'vitest';
import { labelRequirement } from '../../src/report/allure-requirement.ts';
import { fingerprint } from '../../src/secrets/fingerprint.ts';

/**
 * Labels every test of the calling file whose title starts with a psk/<n> ID as that requirement in
 * Allure (epic, feature = its describe block, story, Allure ID, severity), as the other suites' results
 * are. Call once at the top of the file.
 */
export function labelPskRequirements(): void {
  beforeEach(async ({ task }) => {
    const id = /^(psk\/\d+)\s/.exec(task.name)?.[1];
    if (id) await labelRequirement(allure, id, task.suite?.name ?? 'PSK derivation');
  });
}

export const root = new URL('../../', import.meta.url);

export function loadVectors<T>(name: string): { generated: { tool: string; command: string }; cases: T[] } {
  return JSON.parse(readFileSync(new URL(`fixtures/vectors/${name}`, root), 'utf8'));
}

export const hex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'));
export const b64 = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'base64'));

export function same(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b);
}

/** Failure text for two keys: lengths and fingerprints only. */
export function differ(what: string, actual: Uint8Array, expected: Uint8Array): string {
  return `${what}: got ${actual.length} bytes ${fingerprint(actual)}, expected ${expected.length} bytes ${fingerprint(expected)}`;
}

/** Random key bytes that fast-check prints as `<n bytes sha256:…>`. */
export function keyBytes(minLength: number, maxLength: number): fc.Arbitrary<Uint8Array> {
  return fc.uint8Array({ minLength, maxLength }).map((k) =>
    Object.assign(k, { [fc.toStringMethod]: () => `<${k.length} bytes ${fingerprint(k)}>` }),
  );
}

export const key32 = keyBytes(32, 32);

/** True when `text` shows any 12-character window of the key's base64 or 16 of its hex. */
export function leaksKey(text: string, key: Uint8Array): boolean {
  const forms = [Buffer.from(key).toString('base64'), Buffer.from(key).toString('base64url'), Buffer.from(key).toString('hex')];
  return forms.some((form, i) => {
    const w = i === 2 ? 16 : 12;
    for (let at = 0; at + w <= form.length; at++) if (text.includes(form.slice(at, at + w))) return true;
    return false;
  });
}
