/** The rollout member of a Check: "last rollout younger than X" from the newest revision (pure part). */
import { describe, expect, it } from '@jest/globals';
import { newestRevision, rolloutVerdict } from '../../../../src/actions/checks/rollout-check.js';
import type { KubeObject } from '../../../../src/kube/raw-object.js';

const NOW = new Date('2026-01-01T12:00:00Z');
const deployment = (over: Record<string, unknown> = {}): KubeObject => ({
  kind: 'Deployment',
  metadata: { name: 'api', uid: 'd1', generation: 2 },
  spec: { replicas: 2 },
  status: { observedGeneration: 2, replicas: 2, updatedReplicas: 2, readyReplicas: 2, availableReplicas: 2 },
  ...over,
});
const rs = (name: string, revision: number, created: string, owner = 'd1'): KubeObject => ({
  kind: 'ReplicaSet',
  metadata: {
    name,
    annotations: { 'deployment.kubernetes.io/revision': String(revision) },
    ownerReferences: [
      { apiVersion: 'apps/v1', kind: 'Deployment', name: 'api', uid: owner, controller: true },
    ],
    creationTimestamp: created,
  } as unknown as KubeObject['metadata'],
});

describe('newestRevision', () => {
  it('takes the highest revision the workload controls', () => {
    const items = [
      rs('api-1', 1, '2026-01-01T00:00:00Z'),
      rs('api-3', 3, '2026-01-01T11:50:00Z'),
      rs('other-9', 9, '2026-01-01T11:59:00Z', 'someone-else'),
      rs('api-2', 2, '2026-01-01T06:00:00Z'),
    ];
    expect(newestRevision(deployment(), items)?.metadata?.name).toBe('api-3');
  });
});

describe('rolloutVerdict', () => {
  it.each<[string, { changedWithin: string; notReady?: boolean }, KubeObject, string | undefined, string]>([
    ['rolled out 10m ago, within 1h', { changedWithin: '1h' }, deployment(), '2026-01-01T11:50:00Z', 'Met'],
    [
      'rolled out 2h ago, not within 1h',
      { changedWithin: '1h' },
      deployment(),
      '2026-01-01T10:00:00Z',
      'NotMet',
    ],
    ['no revision at all', { changedWithin: '1h' }, deployment(), undefined, 'NotMet'],
    [
      'recent and ready, notReady asked',
      { changedWithin: '1h', notReady: true },
      deployment(),
      '2026-01-01T11:50:00Z',
      'NotMet',
    ],
    [
      'recent and not ready, notReady asked',
      { changedWithin: '1h', notReady: true },
      deployment({
        status: {
          observedGeneration: 2,
          replicas: 2,
          updatedReplicas: 1,
          readyReplicas: 1,
          availableReplicas: 1,
        },
      }),
      '2026-01-01T11:50:00Z',
      'Met',
    ],
  ])('%s', (_name, p, workload, created, want) => {
    const newest = created ? rs('api-3', 3, created) : undefined;
    const r = rolloutVerdict(p, workload, newest, NOW);
    expect(r.result).toBe(want);
    expect(r.message).toContain('Deployment api');
  });
});
