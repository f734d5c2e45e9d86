// Test tokens: a fresh SoftHSM2 store per test (own SOFTHSM2_CONF and token directory under the temp
// directory), its tokens initialised, and the module opened in this process with a logged-in session
// per token. Everything is closed (and, with withTestTokens, deleted) afterwards, whatever the test did.
import { Pkcs11Module } from '../module.ts';
import { SoftHsmStore, softhsmModule } from '../softhsm.ts';
import { TokenSession } from '../token.ts';

/** The user PIN of test tokens (a throwaway; tests check it never appears in output). */
export const TEST_PIN = 'test-pin-4711';

export interface TestTokens {
  store: SoftHsmStore;
  mod: Pkcs11Module;
  /** A logged-in session per token label. */
  sessions: Record<string, TokenSession>;
}

/** Opens `store` in this process, logs in to `labels`, runs `fn`, closes everything (the store stays). */
export function inStore<T>(store: SoftHsmStore, labels: string[], fn: (t: TestTokens) => T): T {
  const previous = process.env.SOFTHSM2_CONF;
  process.env.SOFTHSM2_CONF = store.conf; // read by SoftHSM at C_Initialize
  let mod: Pkcs11Module | undefined;
  const sessions: Record<string, TokenSession> = {};
  try {
    mod = Pkcs11Module.open(softhsmModule()!);
    for (const l of labels) {
      sessions[l] = TokenSession.open(mod, { token: l });
      sessions[l].login(TEST_PIN);
    }
    return fn({ store, mod, sessions });
  } finally {
    for (const s of Object.values(sessions)) s.close();
    mod?.close();
    if (previous === undefined) delete process.env.SOFTHSM2_CONF;
    else process.env.SOFTHSM2_CONF = previous;
  }
}

/** A new store with tokens `labels` (PIN TEST_PIN), opened for `fn`, then deleted. */
export function withTestTokens<T>(labels: string[], fn: (t: TestTokens) => T): T {
  const store = SoftHsmStore.create();
  try {
    for (const l of labels) store.initToken(l, TEST_PIN);
    return inStore(store, labels, fn);
  } finally {
    store.remove();
  }
}
