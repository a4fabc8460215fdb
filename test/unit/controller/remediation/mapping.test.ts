import { describe, expect, it } from '@jest/globals';
import { CONDITION_TYPES, REASONS } from '../../../../src/api/v1alpha1/constants.js';
import type { Remediation } from '../../../../src/api/v1alpha1/schema.js';
import { slotWaiters } from '../../../../src/controller/remediation/mapping.js';
import type { Cache } from '../../../../src/runtime/types.js';
import { aRemediation, NS } from './builders.js';

const cacheOf = (items: Remediation[]): Cache<Remediation> => ({
  get: (ns, name) => items.find((r) => r.metadata.namespace === ns && r.metadata.name === name),
  list: (ns) => (ns === undefined ? items : items.filter((r) => r.metadata.namespace === ns)),
});

const succeeded = (name: string, target = 'Deployment/web'): Remediation =>
  aRemediation({
    name,
    status: {
      phase: 'Succeeded',
      target,
      conditions: [
        {
          type: CONDITION_TYPES.succeeded,
          status: 'True',
          reason: 'StepsSucceeded',
          message: '',
          lastTransitionTime: '',
        },
      ],
    },
  });

const running = (name: string, target: string): Remediation =>
  aRemediation({ name, status: { phase: 'Running', target, conditions: [] } });

const waiting = (name: string, reason: string, created: string, target = 'Deployment/web'): Remediation =>
  aRemediation({
    name,
    created,
    status: {
      phase: 'Pending',
      target,
      conditions: [
        { type: CONDITION_TYPES.blocked, status: 'True', reason, message: '', lastTransitionTime: '' },
      ],
    },
  });

const names = (reqs: { namespace: string; name: string }[]): string[] => reqs.map((r) => r.name).sort();

describe('slotWaiters: who a finished Remediation wakes', () => {
  it('the oldest waiting for its target, not the younger ones, and not those on other targets', () => {
    const done = succeeded('done');
    const cache = cacheOf([
      done,
      waiting('w-new', REASONS.targetLocked, '2026-01-01T00:00:03Z'),
      waiting('w-old', REASONS.targetLocked, '2026-01-01T00:00:01Z'),
      waiting('w-other', REASONS.targetLocked, '2026-01-01T00:00:00Z', 'Deployment/api'),
    ]);
    expect(names(slotWaiters(cache, 20)(done))).toEqual(['w-old']);
  });

  it('as many of the oldest waiting for the cluster budget as there are free slots', () => {
    const done = succeeded('done');
    const cache = cacheOf([
      done,
      running('r-1', 'Deployment/a'),
      waiting('b-1', REASONS.clusterBudget, '2026-01-01T00:00:01Z', 'Deployment/b'),
      waiting('b-2', REASONS.clusterBudget, '2026-01-01T00:00:02Z', 'Deployment/c'),
      waiting('b-3', REASONS.clusterBudget, '2026-01-01T00:00:03Z', 'Deployment/d'),
    ]);
    expect(names(slotWaiters(cache, 3)(done))).toEqual(['b-1', 'b-2']);
    expect(names(slotWaiters(cache, 1)(done))).toEqual([]);
  });

  it("the oldest waiting for its Runbook's maxConcurrent, same namespace and Runbook only", () => {
    const done = succeeded('done');
    const other = waiting('c-other-ns', REASONS.concurrencyLimit, '2026-01-01T00:00:00Z', 'Deployment/x');
    other.metadata.namespace = 'elsewhere';
    const cache = cacheOf([
      done,
      other,
      waiting('c-2', REASONS.concurrencyLimit, '2026-01-01T00:00:02Z', 'Deployment/y'),
      waiting('c-1', REASONS.concurrencyLimit, '2026-01-01T00:00:01Z', 'Deployment/z'),
    ]);
    expect(names(slotWaiters(cache, 20)(done))).toEqual(['c-1']);
  });

  it('nothing while the Remediation is still running, or for waits of other kinds', () => {
    const live = running('live', 'Deployment/web');
    const done = succeeded('done');
    const cache = cacheOf([live, done, waiting('approval', REASONS.revertHeld, '2026-01-01T00:00:01Z')]);
    expect(slotWaiters(cache, 20)(live)).toEqual([]);
    expect(slotWaiters(cache, 20)(done)).toEqual([]);
  });

  it('the request names the waiter by namespace and name', () => {
    const done = succeeded('done');
    const cache = cacheOf([done, waiting('w', REASONS.targetLocked, '2026-01-01T00:00:01Z')]);
    expect(slotWaiters(cache, 20)(done)).toEqual([{ namespace: NS, name: 'w' }]);
  });
});
