// Which tokens the broker fetches: one per (namespace, policy, oauth2
// credential, scope set) that the rules of a policy selecting an existing pod
// name; nothing for policies that select no pod or for static credentials.
import { describe, expect, it } from '@jest/globals';
import { parsePolicies } from '../../src/reconcile/snapshots.js';
import { tokenDemand } from '../../src/oauth/demand.js';
import { policyObject, slimPod } from '../helpers.js';

const spec = (selector: Record<string, string>): unknown => ({
  podSelector: { matchLabels: selector },
  rules: [
    { name: 'read', to: { hosts: ['crm.internal'] }, http: { methods: ['GET'] }, credential: { name: 'crm', scopes: ['customers.read'] } },
    { name: 'read-too', to: { hosts: ['crm.internal'] }, http: { methods: ['HEAD'] }, credential: { name: 'crm', scopes: ['customers.read'] } },
    { name: 'all', to: { hosts: ['all.crm.internal'] }, credential: 'crm' },
    { name: 'static', to: { hosts: ['api.zendesk.com'] }, credential: 'zendesk' },
  ],
  credentials: [
    { name: 'crm', oauth2: { tokenUrl: 'https://auth.internal/token', clientSecretRef: { name: 'crm-oauth' }, scopes: ['customers.write', 'customers.read'] } },
    { name: 'zendesk', secretRef: { name: 'zendesk', key: 'token' } },
  ],
});

describe('tokenDemand', () => {
  it('asks for one token per scope set of each policy that selects a pod, namespace by namespace', () => {
    const entries = parsePolicies([
      policyObject('crm', spec({ app: 'support-agent' }), { namespace: 'a' }),
      policyObject('crm', spec({ app: 'support-agent' }), { namespace: 'b' }),
      policyObject('crm-idle', spec({ app: 'nobody' }), { namespace: 'a' }),
    ]);
    const pods = [slimPod({ namespace: 'a' }), slimPod({ namespace: 'b' })];
    expect(tokenDemand(entries, pods).map((d) => `${d.namespace}/${d.policy}/${d.credential}:${d.scopes.join(' ')}`)).toEqual([
      'a/crm/crm:customers.read', 'a/crm/crm:customers.read customers.write',
      'b/crm/crm:customers.read', 'b/crm/crm:customers.read customers.write',
    ]);
  });

  it('asks for nothing when no pod is selected', () => {
    expect(tokenDemand(parsePolicies([policyObject('crm', spec({ app: 'support-agent' }), { namespace: 'a' })]), [])).toEqual([]);
  });
});
