import { describe, expect, test } from '@jest/globals';
import type { Step } from '../../../src/api/v1alpha1/schema.js';
import { ACTIONS, CHECK_ACTIONS } from '../../../src/api/v1alpha1/schema.js';
import { ACTIONS_REGISTRY, getAction, validateStep } from '../../../src/actions/index.js';

const step = (s: Partial<Step> & Pick<Step, 'action'>): Step => ({ name: 's', ...s });

describe('registry', () => {
  test('every action of the API has an implementation under its own name', () => {
    for (const name of ACTIONS) expect(getAction(name)?.name).toBe(name);
    expect(Object.keys(ACTIONS_REGISTRY).sort()).toEqual([...ACTIONS].sort());
    expect(getAction('nope')).toBeUndefined();
  });
  test('the check actions (phase Verifying) are exactly the ones that change nothing', () => {
    const lookOnly = Object.values(ACTIONS_REGISTRY)
      .filter((a) => !a.mutating)
      .map((a) => a.name);
    expect([...CHECK_ACTIONS].sort()).toEqual(lookOnly.sort());
  });
  test('reversible actions have revert', () => {
    for (const a of Object.values(ACTIONS_REGISTRY)) expect(a.revert !== undefined).toBe(a.reversible);
    expect(
      Object.values(ACTIONS_REGISTRY)
        .filter((a) => a.reversible)
        .map((a) => a.name)
        .sort(),
    ).toEqual(['gitopsPause', 'patch', 'scale', 'setEnv', 'silence']);
  });
});

describe('validateStep', () => {
  test.each([
    ['scale fine', step({ action: 'scale', scale: { replicas: 0 } }), []],
    ['scale missing', step({ action: 'scale' }), ['scale: parameters are required for action scale']],
    [
      'scale negative',
      step({ action: 'scale', scale: { replicas: -1 } }),
      ['scale.replicas: must be an integer of 0 or more'],
    ],
    [
      'scale on a DaemonSet',
      step({
        action: 'scale',
        scale: { replicas: 1 },
        target: { apiVersion: 'apps/v1', kind: 'DaemonSet', name: 'x' },
      }),
      ['target.kind: scale works on Deployment, StatefulSet, not DaemonSet'],
    ],
    [
      'restart on a Pod',
      step({ action: 'rolloutRestart', target: { apiVersion: 'v1', kind: 'Pod', name: 'x' } }),
      ['target.kind: rolloutRestart works on Deployment, StatefulSet, DaemonSet, not Pod'],
    ],
    ['restart fine without params', step({ action: 'rolloutRestart' }), []],
    [
      'deletePod neither',
      step({ action: 'deletePod', deletePod: { maxCount: 1 } }),
      ['deletePod: give names or labelSelector'],
    ],
    [
      'deletePod both',
      step({ action: 'deletePod', deletePod: { maxCount: 2, names: ['a'], labelSelector: 'a=b' } }),
      ['deletePod: give names or labelSelector, not both'],
    ],
    [
      'deletePod too many names',
      step({ action: 'deletePod', deletePod: { maxCount: 1, names: ['a', 'b'] } }),
      ['deletePod.names: 2 names but maxCount is 1'],
    ],
    [
      'patch json not a list',
      step({ action: 'patch', patch: { type: 'json', patch: { spec: {} } } }),
      ['patch.patch: a json patch must be a non-empty list of operations'],
    ],
    [
      'patch json bad op',
      step({ action: 'patch', patch: { type: 'json', patch: [{ op: 'put', path: 'x' }] } }),
      [
        'patch.patch[0].op: must be one of add, remove, replace, move, copy, test',
        'patch.patch[0].path: must be a JSON pointer starting with /',
      ],
    ],
    [
      'patch json missing value',
      step({ action: 'patch', patch: { type: 'json', patch: [{ op: 'add', path: '/a' }] } }),
      ['patch.patch[0].value: required for add'],
    ],
    [
      'patch merge list',
      step({ action: 'patch', patch: { type: 'merge', patch: [] } }),
      ['patch.patch: a merge patch must be a non-empty object'],
    ],
    [
      'patch default strategic',
      step({ action: 'patch', patch: { patch: { spec: { replicas: 1 } } } as never }),
      [],
    ],
    [
      'setEnv both value and unset',
      step({ action: 'setEnv', setEnv: { env: [{ name: 'A', value: 'x', unset: true }] } }),
      ['setEnv.env[0]: give either value or unset: true, not both'],
    ],
    [
      'setEnv no value',
      step({ action: 'setEnv', setEnv: { env: [{ name: 'A' }] } }),
      ['setEnv.env[0].value: required unless unset is true'],
    ],
    [
      'setEnv duplicate',
      step({
        action: 'setEnv',
        setEnv: {
          env: [
            { name: 'A', value: '1' },
            { name: 'A', unset: true },
          ],
        },
      }),
      ['setEnv.env: variable A is listed twice'],
    ],
    [
      'undo negative',
      step({ action: 'rolloutUndo', rolloutUndo: { toRevision: -2 } }),
      ['rolloutUndo.toRevision: must be an integer of 0 or more'],
    ],
    [
      'redis no url',
      step({ action: 'redisCheck', redisCheck: {} }),
      ['redisCheck: give url or urlFrom.secretKeyRef'],
    ],
    [
      'redisCheck reads',
      step({ action: 'redisCheck', redisCheck: { url: 'redis://x', command: ['llen', 'q'], expect: '0' } }),
      [],
    ],
    [
      'redisCheck may not write',
      step({ action: 'redisCheck', redisCheck: { url: 'redis://x', command: ['DEL', 'q'] } }),
      [
        'redisCheck.command: DEL is not a read-only command; a check runs on every poll and in dry runs, so it may only read (e.g. PING, GET, EXISTS, LLEN, SCARD, ZCARD, HGET, TTL, INFO). Use the redisCommand action for writes',
      ],
    ],
    [
      'redis wrong scheme',
      step({ action: 'redisCommand', redisCommand: { url: 'http://x', command: ['DEL', 'k'] } }),
      ['redisCommand.url: must start with redis:// or rediss://'],
    ],
    [
      'postgres url from secret',
      step({
        action: 'postgresQuery',
        postgresQuery: { urlFrom: { secretKeyRef: { name: 's', key: 'k' } }, query: 'DELETE FROM x' },
      }),
      [],
    ],
    [
      'silence bad duration',
      step({ action: 'silence', silence: { alertmanagerUrl: 'http://am', duration: '10 minutes' } }),
      [expect.stringMatching(/^silence.duration: invalid duration/)],
    ],
    ['notify without url is fine', step({ action: 'notify', notify: { message: 'hi' } }), []],
    [
      'stray member',
      step({ action: 'scale', scale: { replicas: 1 }, setEnv: { env: [] } }),
      ["setEnv: parameters for action setEnv are set, but the step's action is scale"],
    ],
  ])('%s', (_name, s, messages) => {
    expect(validateStep(s)).toEqual(messages);
  });
});
