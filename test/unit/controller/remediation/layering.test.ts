import { CONDITION_TYPES } from '../../../../src/api/v1alpha1/constants.js';
import { describe, expect, it } from '@jest/globals';
import {
  changedFields,
  inPlace,
  layeredOnRequests,
  layers,
  overlaps,
} from '../../../../src/controller/remediation/layering.js';
import { aRemediation, stepRec } from './builders.js';

describe('layering: which changes overlap', () => {
  const rows: [string[] | 'all', string[] | 'all', boolean][] = [
    [['app/A'], ['app/A'], true],
    [['app/A'], ['app/B'], false],
    [['app/A'], ['sidecar/A'], false],
    [['/spec/replicas'], ['/spec'], true],
    [
      ['/spec/template/spec/containers/0/resources'],
      ['/spec/template/spec/containers/0/resources/limits'],
      true,
    ],
    [['/spec/replicas'], ['/spec/replicasX'], false],
    [['/spec/replicas'], 'all', true],
  ];
  it.each(rows)('%j and %j: %s', (a, b, want) => {
    expect(overlaps(a, b)).toBe(want);
  });

  it('fields of each action', () => {
    expect(changedFields({ action: 'scale', before: { replicas: 3 }, after: { replicas: 0 } })).toEqual([
      '/spec/replicas',
    ]);
    expect(
      changedFields({
        action: 'setEnv',
        before: { containers: { app: { A: { absent: true } } } },
        after: { containers: { app: { A: { value: '1' } }, side: { B: { value: '2' } } } },
      }),
    ).toEqual(['app/A', 'side/B']);
    expect(
      changedFields({
        action: 'patch',
        before: { paths: { '/spec/replicas': 1 } },
        after: { paths: { '/spec/replicas': 2 } },
      }),
    ).toEqual(['/spec/replicas']);
    expect(changedFields({ action: 'patch' })).toBe('all');
  });

  it.each([
    ['Pending', undefined, false],
    ['Running', undefined, true],
    ['Succeeded', undefined, true],
    ['Reverting', undefined, true],
    ['Reverted', undefined, false],
    ['Failed', undefined, false],
    ['Failed', { replicas: 1 }, true],
  ] as const)('a %s step (before %j) is in place: %s', (phase, before, want) => {
    expect(inPlace(stepRec({ phase, ...(before ? { before } : {}) }))).toBe(want);
  });

  it('a step waiting for its retry is in place once an attempt started (it may have landed)', () => {
    expect(inPlace(stepRec({ phase: 'Pending', attempt: 1, before: { replicas: 1 } }))).toBe(true);
  });

  it('only scale, setEnv and patch steps undone on resolve take part', () => {
    const spec = (action: string, revertOnResolve: boolean) =>
      stepRec({ spec: { name: 's', action: action as 'scale', revertOnResolve } });
    expect(layers(spec('scale', true))).toBe(true);
    expect(layers(spec('setEnv', true))).toBe(true);
    expect(layers(spec('patch', true))).toBe(true);
    expect(layers(spec('scale', false))).toBe(false);
    expect(layers(spec('silence', true))).toBe(false);
  });

  it('a layered Remediation wakes the ones it is layered on, once each', () => {
    const rem = aRemediation({
      status: {
        steps: [
          stepRec({ layeredOn: [{ remediation: 'shop/r1', uid: 'u1', step: 'a' }] }),
          stepRec({
            layeredOn: [
              { remediation: 'shop/r1', uid: 'u1', step: 'b' },
              { remediation: 'other/r0', uid: 'u0', step: 'a' },
            ],
          }),
        ],
      },
    });
    expect(layeredOnRequests(rem)).toEqual([
      { namespace: 'shop', name: 'r1' },
      { namespace: 'other', name: 'r0' },
    ]);
  });

  it('wakes them only once it no longer holds them: reverted, its revert failed, or deleted', () => {
    const on = [{ remediation: 'shop/r1', uid: 'u1', step: 'a' }];
    const withStep = (phase: 'Succeeded' | 'Reverting' | 'Reverted') =>
      aRemediation({ status: { steps: [stepRec({ phase, layeredOn: on })] } });
    const r1 = [{ namespace: 'shop', name: 'r1' }];
    // In place (done, or being reverted): the older revert is still held; no pass for it.
    expect(layeredOnRequests(withStep('Succeeded'))).toEqual([]);
    expect(layeredOnRequests(withStep('Reverting'))).toEqual([]);
    expect(layeredOnRequests(withStep('Succeeded'), 'delete')).toEqual(r1);
    expect(layeredOnRequests(withStep('Reverted'))).toEqual(r1);
    const failed = {
      type: CONDITION_TYPES.reverted,
      status: 'False' as const,
      reason: 'RevertFailed',
      message: '',
      lastTransitionTime: '',
    };
    expect(
      layeredOnRequests(
        aRemediation({
          status: { conditions: [failed], steps: [stepRec({ phase: 'Succeeded', layeredOn: on })] },
        }),
      ),
    ).toEqual(r1);
  });

  it('wakes only the next one down: those another of them still holds wait for that one', () => {
    const ref = (n: string) => ({ remediation: `shop/${n}`, uid: `uid-${n}`, step: 'a' });
    const r2 = aRemediation({
      name: 'r2',
      status: { steps: [stepRec({ phase: 'Succeeded', layeredOn: [ref('r1')] })] },
    });
    const r3 = aRemediation({
      name: 'r3',
      status: { steps: [stepRec({ phase: 'Reverted', layeredOn: [ref('r1'), ref('r2')] })] },
    });
    const cache = new Map([['shop/r2', r2]]);
    const get = (ns: string, name: string) => cache.get(`${ns}/${name}`);
    expect(layeredOnRequests(r3, 'update', get)).toEqual([{ namespace: 'shop', name: 'r2' }]);
    // r2 reverted too: r1 is free.
    cache.set(
      'shop/r2',
      aRemediation({
        name: 'r2',
        status: { steps: [stepRec({ phase: 'Reverted', layeredOn: [ref('r1')] })] },
      }),
    );
    expect(layeredOnRequests(r3, 'update', get)).toEqual([
      { namespace: 'shop', name: 'r1' },
      { namespace: 'shop', name: 'r2' },
    ]);
  });
});
