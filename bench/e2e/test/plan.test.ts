import { FULL, pickRates, pickVariants } from '../plan.js';

describe('bench-e2e plan', () => {
  it('keeps the asked variants in the bench order, always with the baseline', () => {
    expect(pickVariants('floor-node,agentwarden')).toEqual(['none', 'agentwarden', 'floor-node']);
    expect(pickVariants('none')).toEqual(['none']);
  });

  it('refuses a variant it does not know, naming the flag', () => {
    expect(() => pickVariants('agentwarden,envoy')).toThrow(/--variants agentwarden,envoy: each must be one of none, agentwarden/);
    expect(() => pickVariants(',')).toThrow(/--variants/);
  });

  it('keeps the asked rates with their measured seconds', () => {
    expect(pickRates(FULL.rates, '1000')).toEqual([[1000, 5]]);
    expect(pickRates(FULL.rates, '1000,100')).toEqual(FULL.rates);
  });

  it('refuses a rate the plan has no duration for', () => {
    expect(() => pickRates(FULL.rates, '500')).toThrow(/--rates 500: each must be one of 100, 1000/);
    expect(() => pickRates(FULL.rates, 'x')).toThrow(/--rates x/);
  });
});
