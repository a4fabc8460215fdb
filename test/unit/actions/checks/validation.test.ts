/** Bad input for the #12 action additions gives a problem naming the field (Runbook Ready=False). */
import { describe, expect, it } from '@jest/globals';
import type { RunbookSpec, Step } from '../../../../src/api/v1alpha1/schema.js';
import { validateRunbook } from '../../../../src/runbook/validate.js';

const deployment = { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' };
const rb = (steps: Step[], over: Partial<RunbookSpec> = {}): RunbookSpec => ({ steps, ...over });
const step = (s: Partial<Step> & Pick<Step, 'action'>): Step => ({ name: 's', ...s });

describe('validation of the action additions', () => {
  it.each<[string, RunbookSpec, string[]]>([
    [
      'podLogs on a Deployment, with a pattern',
      rb([
        step({
          action: 'podLogs',
          target: deployment,
          podLogs: { match: '\\b503\\b', tailLines: 50, maxPods: 3, maxBytes: 4096 },
        }),
      ]),
      [],
    ],
    [
      'podLogs on a Pod, no parameters',
      rb([step({ action: 'podLogs', target: { apiVersion: 'v1', kind: 'Pod', name: 'p' } })]),
      [],
    ],
    [
      'podLogs on a kind without pods',
      rb([step({ action: 'podLogs', target: { apiVersion: 'v1', kind: 'ConfigMap', name: 'c' } })]),
      [
        'steps[0].target.kind: podLogs works on Deployment, StatefulSet, DaemonSet, ReplicaSet, Pod, not ConfigMap',
      ],
    ],
    [
      'podLogs on the Runbook target, a kind without pods',
      rb([step({ action: 'podLogs' })], { target: { apiVersion: 'v1', kind: 'Service', name: 'svc' } }),
      [
        'target.kind: podLogs works on Deployment, StatefulSet, DaemonSet, ReplicaSet, Pod, not Service (the target of steps[0], podLogs)',
      ],
    ],
    [
      'podLogs without any target',
      rb([step({ action: 'podLogs' })]),
      ['steps[0].target: action podLogs needs a target: set steps[0].target or spec.target'],
    ],
    [
      'podLogs with a pattern RE2 does not have',
      rb([step({ action: 'podLogs', target: deployment, podLogs: { match: '(?<!x)503' } })]),
      [
        expect.stringMatching(
          /^steps\[0\]\.podLogs\.match: not a valid RE2 regular expression/,
        ) as unknown as string,
      ],
    ],
    [
      'podLogs over its bounds',
      rb([
        step({
          action: 'podLogs',
          target: deployment,
          podLogs: { tailLines: 5000, maxPods: 3, maxBytes: 100 },
        }),
      ]),
      [
        'steps[0].podLogs.tailLines: Expected integer to be less or equal to 1000',
        'steps[0].podLogs.maxBytes: Expected integer to be greater or equal to 256',
      ],
    ],
    [
      'an unknown empty-result meaning',
      rb([
        step({
          action: 'prometheusQuery',
          prometheusQuery: { url: 'http://p', query: 'up', noData: 'Maybe' } as never,
        }),
      ]),
      ['steps[0].prometheusQuery.noData: must be one of Pass, Fail, Wait'],
    ],
    [
      'a ratio and a query',
      rb([
        step({
          action: 'prometheusQuery',
          prometheusQuery: { url: 'http://p', query: 'up', ratio: { numerator: 'a', denominator: 'b' } },
        }),
      ]),
      ['steps[0].prometheusQuery: give query or ratio, not both'],
    ],
    [
      'statementTimeout over the step timeout (default 2m)',
      rb([
        step({
          action: 'postgresQuery',
          postgresQuery: { url: 'postgres://db/app', query: 'VACUUM', statementTimeout: '5m' },
        }),
      ]),
      [
        "steps[0].postgresQuery.statementTimeout: 5m is longer than the step's timeout (2m, the default): set the step's timeout to 5m or more",
      ],
    ],
    [
      'statementTimeout within the step timeout',
      rb([
        step({
          action: 'postgresQuery',
          timeout: '10m',
          postgresQuery: { url: 'postgres://db/app', query: 'VACUUM', statementTimeout: '5m' },
        }),
      ]),
      [],
    ],
    [
      'statementTimeout over 1h',
      rb([
        step({
          action: 'postgresQuery',
          timeout: '3h',
          postgresQuery: { url: 'postgres://db/app', query: 'VACUUM', statementTimeout: '2h' },
        }),
      ]),
      [
        'steps[0].postgresQuery.statementTimeout: at most 1h (a statement holds a controller worker while it runs)',
      ],
    ],
    [
      'statementTimeout without a unit',
      rb([
        step({
          action: 'postgresQuery',
          postgresQuery: { url: 'postgres://db/app', query: 'x', statementTimeout: '30' },
        }),
      ]),
      [
        expect.stringMatching(
          /^steps\[0\]\.postgresQuery\.statementTimeout: Expected string to match/,
        ) as unknown as string,
      ],
    ],
    [
      'httpCall.expect with a wildcard path',
      rb([
        step({
          action: 'httpCall',
          httpCall: { url: 'http://a', expect: { json: [{ path: '$.items[*]', equals: '1' }] } },
        }),
      ]),
      [
        expect.stringMatching(
          /^steps\[0\]\.httpCall\.expect\.json\[0\]\.path: expected a quoted name or an integer index/,
        ) as unknown as string,
      ],
    ],
    [
      'recordRows over 20',
      rb([step({ action: 'postgresCheck', postgresCheck: { url: 'postgres://db/app', recordRows: 50 } })]),
      ['steps[0].postgresCheck.recordRows: Expected integer to be less or equal to 20'],
    ],
    [
      'redisCheck recording INFO persistence and matching a line',
      rb([
        step({
          action: 'redisCheck',
          redisCheck: {
            url: 'redis://r:6379',
            command: ['INFO', 'persistence'],
            record: true,
            expectMatch: '(?m)^aof_last_write_status:ok',
          },
        }),
      ]),
      [],
    ],
  ])('%s', (_what, spec, problems) => {
    expect(validateRunbook(spec, 'shop')).toEqual(problems);
  });
});
