// The sidecar remembers when it first loaded each brokered OAuth token (by
// revision), across snapshot updates, so that a token is used at most its
// lifetime from then whatever the controller's clock says; it forgets tokens
// no longer in the snapshot in force.
import { describe, expect, it } from '@jest/globals';
import { compileSnapshot, loadSnapshot, parseAgentPolicy, type TokenLease } from '../../policy/src/index.js';
import { PolicyState } from '../src/state.js';

const POD = { namespace: 'support', name: 'agent-0', serviceAccount: 'agent', labels: { app: 'agent' } };
const POLICY = parseAgentPolicy({
  apiVersion: 'agentwarden.io/v1alpha1', kind: 'AgentPolicy', metadata: { name: 'crm', namespace: 'support' },
  spec: {
    podSelector: {},
    rules: [{ name: 'read', to: { hosts: ['crm.internal'] }, credential: { name: 'crm', scopes: ['r'] } }],
    credentials: [{ name: 'crm', oauth2: { tokenUrl: 'https://auth.internal/token', clientSecretRef: { name: 's' }, scopes: ['r'] } }],
  },
}, 'crm.yaml', 'support');

const snapshot = (revision: string, expiresAtMs: number): ReturnType<typeof compileSnapshot> => compileSnapshot([POLICY], POD, {
  resolveToken: (): TokenLease => ({ token: `tok-${revision}`, expiresAtMs, lifetimeMs: 60_000, revision, unavailableReason: '' }),
});

describe('the sidecar\'s first sight of a token', () => {
  it('counts the lifetime from the first load of a revision, across snapshots, and forgets replaced tokens', () => {
    const state = new PolicyState();
    const first = loadSnapshot(snapshot('oauth2:1', 10_000_000), { nowMs: 1000, tokenFirstSeen: state.tokenFirstSeen });
    state.install(first, 1000);
    // The controller's clock says the token lasts far longer: the sidecar caps it at first sight + lifetime.
    expect(first.rules[0]?.credential?.usableUntilMs).toBe(61_000);
    const again = loadSnapshot(snapshot('oauth2:1', 10_000_000), { nowMs: 30_000, tokenFirstSeen: state.tokenFirstSeen });
    state.install(again, 30_000);
    expect(again.rules[0]?.credential?.usableUntilMs).toBe(61_000);
    const next = loadSnapshot(snapshot('oauth2:2', 10_000_000), { nowMs: 40_000, tokenFirstSeen: state.tokenFirstSeen });
    state.install(next, 40_000);
    expect(next.rules[0]?.credential?.usableUntilMs).toBe(100_000);
    // oauth2:1 was forgotten when oauth2:2 replaced it: seen again, it counts from now.
    const back = loadSnapshot(snapshot('oauth2:1', 10_000_000), { nowMs: 50_000, tokenFirstSeen: state.tokenFirstSeen });
    expect(back.rules[0]?.credential?.usableUntilMs).toBe(110_000);
  });
});
