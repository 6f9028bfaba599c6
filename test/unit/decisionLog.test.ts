import { describe, expect, it, vi } from 'vitest';
import { DecisionLog } from '../../src/shield/index.js';

describe('DecisionLog', () => {
  it('decides each (subscriber, coordinate) once per request and counts every value it covers', () => {
    const log = new DecisionLog();
    const decide = vi.fn(() => ({ effect: 'MASK' as const, strategy: 'LAST4' as const }));
    for (let i = 0; i < 500; i++) log.decideOnce('sub-1', 'CallDetailRecord.callingNumber', decide);
    log.decideOnce('sub-2', 'CallDetailRecord.callingNumber', decide);
    // The first subscriber's decision is still found once a second one shares the field.
    log.decideOnce('sub-1', 'CallDetailRecord.callingNumber', decide);
    log.decideOnce('sub-3', 'CallDetailRecord.callingNumber', decide);
    log.decideOnce('sub-2', 'CallDetailRecord.callingNumber', decide);
    expect(decide).toHaveBeenCalledTimes(3);
    expect(log.list()).toEqual([
      { subscriberId: 'sub-1', coordinate: 'CallDetailRecord.callingNumber', effect: 'MASK', strategy: 'LAST4', count: 501 },
      { subscriberId: 'sub-2', coordinate: 'CallDetailRecord.callingNumber', effect: 'MASK', strategy: 'LAST4', count: 2 },
      { subscriberId: 'sub-3', coordinate: 'CallDetailRecord.callingNumber', effect: 'MASK', strategy: 'LAST4', count: 1 },
    ]);
  });

  it('keeps distinct outcomes apart when merging a remote subgraph\u2019s decisions', () => {
    const log = new DecisionLog();
    log.record('sub-1', 'Device.imei', { effect: 'DENY', reason: 'CONSENT_REQUIRED' });
    log.merge([
      { subscriberId: 'sub-1', coordinate: 'Device.imei', effect: 'DENY', reason: 'CONSENT_REQUIRED', count: 2 },
      { subscriberId: 'sub-1', coordinate: 'Device.imei', effect: 'ALLOW', count: 1 },
    ]);
    expect(log.list()).toEqual([
      { subscriberId: 'sub-1', coordinate: 'Device.imei', effect: 'DENY', reason: 'CONSENT_REQUIRED', count: 3 },
      { subscriberId: 'sub-1', coordinate: 'Device.imei', effect: 'ALLOW', count: 1 },
    ]);
  });

  it('lists entries in the order they were first recorded, each outcome of a (subscriber, field) apart', () => {
    const log = new DecisionLog();
    log.remember('sub-2', 'Subscriber.email', { effect: 'ALLOW', consentEventId: '7' });
    log.record('sub-1', 'Subscriber.email', { effect: 'DENY', reason: 'OUT_OF_SCOPE' });
    log.remember('sub-1', 'Subscriber.msisdn', { effect: 'DENY', reason: 'OUT_OF_SCOPE' });
    log.record('sub-1', 'Subscriber.email', { effect: 'DENY', reason: 'OUT_OF_SCOPE' });
    log.record('sub-2', 'Subscriber.email', { effect: 'ALLOW', consentEventId: '8' });
    log.record('sub-2', 'Subscriber.email', { effect: 'ALLOW', consentEventId: '7' });
    log.counted('sub-2', 'Subscriber.email');
    log.merge([
      { subscriberId: 'sub-1', coordinate: 'Subscriber.msisdn', effect: 'DENY', reason: 'OUT_OF_SCOPE', count: 4 },
      { subscriberId: 'sub-3', coordinate: 'Subscriber.email', effect: 'MASK', strategy: 'LAST4', count: 2 },
      { subscriberId: 'sub-1', coordinate: 'Subscriber.msisdn', effect: 'DENY', reason: 'MINOR', count: 1 },
    ]);
    expect(log.list()).toEqual([
      { subscriberId: 'sub-2', coordinate: 'Subscriber.email', effect: 'ALLOW', consentEventId: '7', count: 3 },
      { subscriberId: 'sub-1', coordinate: 'Subscriber.email', effect: 'DENY', reason: 'OUT_OF_SCOPE', count: 2 },
      { subscriberId: 'sub-1', coordinate: 'Subscriber.msisdn', effect: 'DENY', reason: 'OUT_OF_SCOPE', count: 5 },
      { subscriberId: 'sub-2', coordinate: 'Subscriber.email', effect: 'ALLOW', consentEventId: '8', count: 1 },
      { subscriberId: 'sub-3', coordinate: 'Subscriber.email', effect: 'MASK', strategy: 'LAST4', count: 2 },
      { subscriberId: 'sub-1', coordinate: 'Subscriber.msisdn', effect: 'DENY', reason: 'MINOR', count: 1 },
    ]);
    // list() is a copy: the caller cannot change the log.
    log.list().pop();
    expect(log.list()).toHaveLength(6);
  });
});
