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

  it('keeps the token it holds while a new snapshot brings none for that credential and scope set (a new leader not yet fetched), never past its expiry', () => {
    const state = new PolicyState();
    const opts = (nowMs: number): Parameters<typeof loadSnapshot>[1] => ({ nowMs, tokenFirstSeen: state.tokenFirstSeen, heldToken: state.heldToken });
    state.install(loadSnapshot(snapshot('oauth2:1', 61_000), opts(1000)), 1000);
    // The new leader's first snapshot: the credential is there, its token is not yet.
    const pending = compileSnapshot([POLICY], POD, { resolveToken: () => undefined });
    const during = loadSnapshot(pending, opts(20_000));
    expect(during.rules[0]?.credential).toMatchObject({ value: 'tok-oauth2:1', usableUntilMs: 61_000 });
    state.install(during, 20_000);
    // Still held across another such snapshot, and gone once it expired.
    expect(loadSnapshot(pending, opts(60_999)).rules[0]?.credential?.value).toBe('tok-oauth2:1');
    const after = loadSnapshot(pending, opts(61_000)).rules[0]?.credential;
    expect(after?.value).toBeUndefined();
    expect(after?.unavailableReason).toBe('no token fetched yet');
    // Another scope set (or policy, or credential) never borrows it.
    expect(state.heldToken('crm/crm#r w', 30_000)).toBeUndefined();
  });
});
