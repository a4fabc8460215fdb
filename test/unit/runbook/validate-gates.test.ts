/** Bad input for guards, approval deadlines, escalations: each a Runbook problem naming its field. */
import { describe, expect, it } from '@jest/globals';
import type { RunbookSpec } from '../../../src/api/v1alpha1/schema.js';
import { validateRunbook } from '../../../src/runbook/validate.js';
import { aRunbook, aStep } from '../controller/remediation/builders.js';

const spec = (over: Partial<RunbookSpec> = {}): RunbookSpec => ({ ...aRunbook().spec, ...over });
const promCheck = { name: 'lag', prometheusQuery: { url: 'http://prom:9090', query: 'lag' } };

describe('validateRunbook: guards, approval, escalation', () => {
  it('valid additions have no problems', () => {
    expect(
      validateRunbook(
        spec({
          steps: [
            aStep({
              guard: { checks: [promCheck, { name: 'deploy', rollout: { changedWithin: '1h' } }] },
              requireApproval: { timeout: '5m', onTimeout: 'Skip' },
            }),
          ],
          guard: { checks: [promCheck], onNotMet: 'SkipRemediation', onError: 'Fail' },
          safety: {
            requireApproval: true,
            approval: { timeout: '10m', onTimeout: 'Proceed' },
            ineffectiveWindow: '30m',
          },
          escalation: [{ after: '1h', notify: { message: 'page {{ deployment }}' } }],
        }),
        'shop',
      ),
    ).toEqual([]);
  });

  it.each<[string, Partial<RunbookSpec>, string]>([
    [
      'approval timeout without a unit',
      { steps: [aStep({ requireApproval: { timeout: '5' } })] },
      'steps[0].requireApproval.timeout',
    ],
    [
      'unknown onTimeout',
      { steps: [aStep({ requireApproval: { timeout: '5m', onTimeout: 'Wait' as 'Skip' } })] },
      'steps[0].requireApproval.onTimeout: must be one of Skip, Proceed, Fail',
    ],
    [
      'onTimeout without a timeout',
      { steps: [aStep({ requireApproval: { onTimeout: 'Skip' } })] },
      'steps[0].requireApproval.onTimeout: has no effect without',
    ],
    [
      'a guard check with two members',
      {
        steps: [
          aStep({
            guard: { checks: [{ ...promCheck, httpCheck: { url: 'http://x' } }] },
          }),
        ],
      },
      'steps[0].guard.checks[0]: give exactly one of',
    ],
    ['a guard without checks', { steps: [aStep({ guard: { checks: [] } })] }, 'steps[0].guard.checks'],
    [
      'unknown onNotMet',
      { steps: [aStep({ guard: { checks: [promCheck], onNotMet: 'Ignore' as 'SkipStep' } })] },
      'steps[0].guard.onNotMet: must be one of SkipStep, SkipRemediation',
    ],
    [
      'a Runbook guard cannot skip a step',
      { guard: { checks: [promCheck], onNotMet: 'SkipStep' } },
      'guard.onNotMet: a Runbook guard is not a step',
    ],
    [
      'a rollout check on a target that is not a workload',
      {
        target: { apiVersion: 'v1', kind: 'Service', name: 'web' },
        steps: [
          aStep({
            action: 'notify',
            rolloutRestart: undefined,
            notify: { message: 'x' },
            guard: { checks: [{ name: 'd', rollout: { changedWithin: '1h' } }] },
          }),
        ],
      },
      'steps[0].guard.checks[0].rollout: reads a Deployment, StatefulSet or DaemonSet target',
    ],
    [
      'a guard template with an undeclared param',
      {
        guard: { checks: [{ name: 'q', prometheusQuery: { url: 'http://p', query: 'up{x="{{ nope }}"}' } }] },
      },
      'refers to param "nope"',
    ],
    [
      'escalation after without a unit',
      { escalation: [{ after: '15', notify: { message: 'x' } }] },
      'escalation[0].after',
    ],
    [
      'escalation notify without a message',
      { escalation: [{ after: '15m', notify: { message: ' ' } }] },
      'escalation[0].notify.message',
    ],
    [
      'safety.approval without requireApproval',
      { safety: { approval: { timeout: '5m' } } },
      'safety.approval: has no effect without safety.requireApproval',
    ],
    ['ineffectiveWindow without a unit', { safety: { ineffectiveWindow: '10' } }, 'safety.ineffectiveWindow'],
  ])('%s', (_name, over, want) => {
    const problems = validateRunbook(spec(over), 'shop');
    expect(problems.join('\n')).toContain(want);
  });
});
