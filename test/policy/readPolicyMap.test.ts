import { describe, expect, it } from 'vitest';
import { PolicyError, readPolicyMap } from '../../directives/index.js';
import { loadPolicySources, SUBGRAPH_NAMES } from '../../src/subgraphs/index.js';

const { registry, subgraphs } = loadPolicySources();

describe('readPolicyMap()', () => {
  it('reads every bundled subgraph without a problem', () => {
    for (const name of SUBGRAPH_NAMES) expect(() => readPolicyMap(subgraphs.get(name)!, registry)).not.toThrow();
  });

  it.each([
    [
      'a @subject field without @purpose',
      /* GraphQL */ `type Device @subject(key: "subscriberId") { imei: String @purpose(allow: [FRAUD_PREVENTION]) model: String }`,
      'Field "Device.model" of @subject type "Device" is not covered by @purpose.',
    ],
    [
      'a purpose not in the registry',
      /* GraphQL */ `type Device @subject(key: "subscriberId") { imei: String @purpose(allow: [SELLING]) }`,
      '"Device.imei" names purpose "SELLING", which is not in the purpose registry.',
    ],
    [
      'a mask for a purpose the field does not allow',
      /* GraphQL */ `type Device @subject(key: "subscriberId") { imei: String @purpose(allow: [FRAUD_PREVENTION]) @mask(purposes: [ANALYTICS], as: HASH) }`,
      '@mask on "Device.imei" names purpose "ANALYTICS", which its @purpose does not allow.',
    ],
  ])('refuses %s, naming the coordinate', (_name, sdl, message) => {
    expect(() => readPolicyMap(sdl, registry)).toThrow(PolicyError);
    expect(() => readPolicyMap(sdl, registry)).toThrow(message);
  });

  it('lets a type-level @purpose cover fields and a field-level one override it', () => {
    const map = readPolicyMap(
      /* GraphQL */ `type Invoice @subject(key: "subscriberId") @purpose(allow: [BILLING]) { id: ID amount: Float @purpose(allow: [FRAUD_PREVENTION]) }`,
      registry,
    );
    expect([...map.field('Invoice', 'id')!.allow]).toEqual(['BILLING']);
    expect([...map.field('Invoice', 'amount')!.allow]).toEqual(['FRAUD_PREVENTION']);
  });
});
