/** Validation of onResolve and of the hold and waitUntil steps: each problem names its field. */
import { describe, expect, it } from '@jest/globals';
import type { RunbookSpec, Step } from '../../../src/api/v1alpha1/schema.js';
import { validateRunbook } from '../../../src/runbook/validate.js';
import { aRunbook, aStep } from '../controller/remediation/builders.js';

const spec = (over: Partial<RunbookSpec> = {}): RunbookSpec => ({ ...aRunbook().spec, ...over });
const ping = { name: 'ping', redisCheck: { url: 'redis://redis:6379/0' } };
const holdStep = (hold: Partial<NonNullable<Step['hold']>>, over: Partial<Step> = {}): Step =>
  aStep({
    name: 'soak',
    action: 'hold',
    rolloutRestart: undefined,
    hold: { duration: '10m', checks: [ping], ...hold },
    ...over,
  });
const health = aStep({
  name: 'health',
  action: 'httpCheck',
  rolloutRestart: undefined,
  httpCheck: { url: 'http://web/health' },
});

describe('validateRunbook: hold, waitUntil, onResolve', () => {
  it('valid ones have no problems', () => {
    expect(
      validateRunbook(
        spec({
          steps: [aStep(), holdStep({ interval: '30s' })],
          onResolve: {
            before: [{ ...health, name: 'ping-first' }],
            gate: { checks: [ping], timeout: '30m', interval: '15s', onTimeout: 'Keep' },
            after: [health, holdStep({}, { name: 'soak-after' })],
          },
        }),
        'shop',
      ),
    ).toEqual([]);
  });

  it.each<[string, Partial<RunbookSpec>, string]>([
    ['a bad hold duration', { steps: [holdStep({ duration: '10 minutes' })] }, 'steps[0].hold.duration:'],
    [
      'a zero hold duration',
      { steps: [holdStep({ duration: '0s' })] },
      'steps[0].hold.duration: must be longer than 0',
    ],
    ['a hold without checks', { steps: [holdStep({ checks: [] })] }, 'steps[0].hold.checks:'],
    [
      'a hold interval longer than its duration',
      { steps: [holdStep({ duration: '1m', interval: '5m' })] },
      'steps[0].hold.interval: at most the duration (1m)',
    ],
    [
      'a hold interval below 1s',
      { steps: [holdStep({ interval: '10ms' })] },
      'steps[0].hold.interval: at least 1s',
    ],
    [
      'a step timeout shorter than the hold',
      { steps: [holdStep({}, { timeout: '5m' })] },
      'steps[0].timeout: must be longer than hold.duration (10m)',
    ],
    [
      'a hold check that is not one check',
      { steps: [holdStep({ checks: [{ name: 'x' }] })] },
      'steps[0].hold.checks[0]: give exactly one of',
    ],
    [
      'a hold without parameters',
      { steps: [aStep({ name: 'soak', action: 'hold', rolloutRestart: undefined })] },
      'steps[0].hold: parameters are required',
    ],
    [
      'a waitUntil without checks',
      {
        steps: [
          aStep({ name: 'w', action: 'waitUntil', rolloutRestart: undefined, waitUntil: { checks: [] } }),
        ],
      },
      'steps[0].waitUntil.checks:',
    ],
    ['an empty onResolve', { onResolve: {} }, 'onResolve: give at least one of before, gate, after'],
    ['an empty gate', { onResolve: { gate: { checks: [], timeout: '5m' } } }, 'onResolve.gate.checks:'],
    [
      'a gate without a timeout',
      { onResolve: { gate: { checks: [ping] } as unknown as NonNullable<RunbookSpec['onResolve']>['gate'] } },
      'onResolve.gate.timeout',
    ],
    [
      'a bad gate timeout',
      { onResolve: { gate: { checks: [ping], timeout: 'soon' } } },
      'onResolve.gate.timeout:',
    ],
    [
      'a gate interval below 1s',
      { onResolve: { gate: { checks: [ping], timeout: '5m', interval: '1ms' } } },
      'onResolve.gate.interval: at least 1s',
    ],
    [
      'an unknown onTimeout',
      {
        onResolve: {
          gate: { checks: [ping], timeout: '5m', onTimeout: 'Maybe' as 'Keep' },
        },
      },
      'onResolve.gate.onTimeout: must be one of Keep, Revert',
    ],
    [
      'a gate check with two members',
      {
        onResolve: {
          gate: { checks: [{ ...ping, httpCheck: { url: 'http://x' } }], timeout: '5m' },
        },
      },
      'onResolve.gate.checks[0]: give exactly one of',
    ],
    [
      'a bad step of onResolve.after',
      { onResolve: { after: [holdStep({ duration: 'x' })] } },
      'onResolve.after[0].hold.duration',
    ],
    [
      'a step of onResolve marked revertOnResolve',
      {
        onResolve: {
          before: [
            aStep({
              name: 'env',
              action: 'setEnv',
              rolloutRestart: undefined,
              setEnv: { env: [{ name: 'A', value: '1' }] },
              revertOnResolve: true,
            }),
          ],
        },
      },
      'onResolve.before[0].revertOnResolve:',
    ],
    [
      'a step name used twice across steps and onResolve',
      { onResolve: { after: [{ ...health, name: 'restart' }] } },
      'onResolve.after[0].name: "restart" is used by an earlier step',
    ],
    [
      'a step named like the gate record',
      { steps: [aStep({ name: 'revert-gate' })], onResolve: { gate: { checks: [ping], timeout: '5m' } } },
      'onResolve.gate: its record is the step "revert-gate"',
    ],
    [
      'an undeclared param in the gate',
      {
        onResolve: {
          gate: { checks: [{ name: 'p', redisCheck: { url: 'redis://{{ nope }}:6379' } }], timeout: '5m' },
        },
      },
      'onResolve.gate.checks[0].redisCheck.url: refers to param "nope"',
    ],
    [
      'a step of onResolve out of scope',
      {
        onResolve: {
          after: [
            {
              ...aStep({ name: 'r2' }),
              target: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'x', namespace: 'other' },
            },
          ],
        },
      },
      'onResolve.after[0].target.namespace:',
    ],
  ])('%s', (_what, over, problem) => {
    const escaped = problem.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    expect(validateRunbook(spec(over), 'shop')).toContainEqual(
      expect.stringMatching(new RegExp(`^${escaped}`)),
    );
  });
});
