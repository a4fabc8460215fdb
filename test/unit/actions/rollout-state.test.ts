import { describe, expect, test } from '@jest/globals';
import { podFault, rolloutState } from '../../../src/actions/checks/wait-for-rollout.js';

const deployment = (
  spec: number,
  status: Record<string, unknown>,
  gen = 2,
  extra: Record<string, unknown> = {},
) => ({
  kind: 'Deployment',
  metadata: { name: 'web', generation: gen },
  spec: { replicas: spec },
  status: { observedGeneration: 2, ...status },
  ...extra,
});
const full = { replicas: 3, updatedReplicas: 3, readyReplicas: 3, availableReplicas: 3 };

const pod = (name: string, cs: Record<string, unknown>) => ({
  metadata: { name },
  status: { containerStatuses: [{ name: 'app', ...cs }] },
});
const crashing = pod('web-1', {
  restartCount: 5,
  state: { waiting: { reason: 'CrashLoopBackOff' } },
  lastState: { terminated: { reason: 'Error' } },
});
const oom = pod('web-2', {
  restartCount: 3,
  state: { waiting: { reason: 'CrashLoopBackOff' } },
  lastState: { terminated: { reason: 'OOMKilled' } },
});
const fine = pod('web-3', { restartCount: 0, ready: true, state: { running: {} } });

describe('rolloutState: Deployment', () => {
  test.each([
    ['complete', deployment(3, full), true, 'RolloutComplete', /rolled out/],
    [
      'generation not observed',
      deployment(3, full, 3),
      false,
      'GenerationNotObserved',
      /observe generation 3 \(observed 2\)/,
    ],
    [
      'not updated',
      deployment(3, { ...full, updatedReplicas: 1, readyReplicas: 1 }),
      false,
      'ReplicasNotUpdated',
      /1 of 3 replicas updated; 1 of 3 pods ready/,
    ],
    ['old pending', deployment(3, { ...full, replicas: 4 }), false, 'OldReplicasPending', /1 old replica/],
    [
      'not ready',
      deployment(3, { ...full, readyReplicas: 1, availableReplicas: 1 }),
      false,
      'PodsNotReady',
      /1 of 3 pods ready/,
    ],
    [
      'not available',
      deployment(3, { ...full, availableReplicas: 2 }),
      false,
      'PodsNotReady',
      /3 of 3 pods ready \(2 available\)/,
    ],
    ['scaled to zero', deployment(0, { replicas: 0 }), true, 'RolloutComplete', /rolled out/],
    [
      'deadline exceeded',
      deployment(3, {
        ...full,
        updatedReplicas: 1,
        conditions: [
          {
            type: 'Progressing',
            reason: 'ProgressDeadlineExceeded',
            message: 'ReplicaSet "web-x" has timed out progressing.',
          },
        ],
      }),
      false,
      'ProgressDeadlineExceeded',
      /timed out progressing/,
    ],
  ])('%s', (_name, obj, done, reason, message) => {
    const s = rolloutState(obj, []);
    expect(s).toMatchObject({ done, reason });
    expect(s.message).toMatch(message);
  });
});

describe('rolloutState: StatefulSet and DaemonSet', () => {
  const sts = (status: Record<string, unknown>, spec: Record<string, unknown> = {}) => ({
    kind: 'StatefulSet',
    metadata: { name: 'db', generation: 1 },
    spec: { replicas: 2, ...spec },
    status: { observedGeneration: 1, ...status },
  });
  const ds = (status: Record<string, unknown>) => ({
    kind: 'DaemonSet',
    metadata: { name: 'agent', generation: 1 },
    spec: {},
    status: { observedGeneration: 1, ...status },
  });
  test.each([
    [
      'sts complete',
      sts({ readyReplicas: 2, updatedReplicas: 2, currentRevision: 'r2', updateRevision: 'r2' }),
      true,
      'RolloutComplete',
    ],
    [
      'sts not ready',
      sts({ readyReplicas: 1, updatedReplicas: 2, currentRevision: 'r2', updateRevision: 'r2' }),
      false,
      'PodsNotReady',
    ],
    [
      'sts revision pending',
      sts({ readyReplicas: 2, updatedReplicas: 1, currentRevision: 'r1', updateRevision: 'r2' }),
      false,
      'ReplicasNotUpdated',
    ],
    [
      'sts partition',
      sts(
        { readyReplicas: 2, updatedReplicas: 1, currentRevision: 'r1', updateRevision: 'r2' },
        { updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition: 1 } } },
      ),
      true,
      'RolloutComplete',
    ],
    [
      'sts on delete',
      sts(
        { readyReplicas: 2, currentRevision: 'r1', updateRevision: 'r2' },
        { updateStrategy: { type: 'OnDelete' } },
      ),
      true,
      'RolloutComplete',
    ],
    [
      'ds complete',
      ds({ desiredNumberScheduled: 1, updatedNumberScheduled: 1, numberReady: 1, numberAvailable: 1 }),
      true,
      'RolloutComplete',
    ],
    [
      'ds not updated',
      ds({ desiredNumberScheduled: 2, updatedNumberScheduled: 1, numberReady: 2, numberAvailable: 2 }),
      false,
      'ReplicasNotUpdated',
    ],
    [
      'ds not ready',
      ds({ desiredNumberScheduled: 2, updatedNumberScheduled: 2, numberReady: 1, numberAvailable: 1 }),
      false,
      'PodsNotReady',
    ],
  ])('%s', (_name, obj, done, reason) => {
    expect(rolloutState(obj, [])).toMatchObject({ done, reason });
  });
});

describe('pod faults', () => {
  const waiting = deployment(3, { ...full, readyReplicas: 1, availableReplicas: 1 });
  test('a crash loop is named with its pod, container and restarts', () => {
    const s = rolloutState(waiting, [fine, crashing]);
    expect(s.reason).toBe('CrashLoopBackOff');
    expect(s.message).toBe(
      '1 of 3 pods ready (1 available); pod web-1 container app (restarts 5) is in CrashLoopBackOff',
    );
  });
  test('OOMKilled wins over the crash loop it causes', () => {
    expect(rolloutState(waiting, [crashing, oom]).reason).toBe('OOMKilled');
    expect(podFault([crashing, oom])?.message).toMatch(
      /pod web-2 container app \(restarts 3\) was OOMKilled/,
    );
  });
  test('faults do not matter once the rollout is done', () => {
    expect(rolloutState(deployment(3, full), [oom]).done).toBe(true);
  });
  test('never ready: no fault, just the count', () => {
    const neverReady = pod('web-4', { restartCount: 0, ready: false, state: { running: {} } });
    expect(rolloutState(waiting, [neverReady])).toMatchObject({
      reason: 'PodsNotReady',
      message: '1 of 3 pods ready (1 available)',
    });
  });
  test('terminating pods are ignored', () => {
    expect(
      podFault([{ ...oom, metadata: { name: 'web-2', deletionTimestamp: '2026-01-01T00:00:00Z' } }]),
    ).toBeUndefined();
  });
});
