import { describe, expect, test } from '@jest/globals';
import type { Bounds } from '../../../src/api/v1alpha1/schema.js';
import {
  checkLeaf,
  checkPatchBounds,
  checkPaths,
  checkReplicas,
  quantityBoundFor,
} from '../../../src/actions/kubernetes/bounds.js';
import { patchEffect } from '../../../src/actions/kubernetes/patch-paths.js';

const C0 = '/spec/template/spec/containers/0';

describe('quantityBoundFor', () => {
  test.each([
    [`${C0}/resources/limits/memory`, 'maxMemory'],
    [`${C0}/resources/requests/memory`, 'maxMemory'],
    [`${C0}/resources/limits/cpu`, 'maxCpu'],
    ['/spec/resources/requests/storage', 'maxStorage'],
    ['/spec/volumeClaimTemplates/0/spec/resources/requests/storage', 'maxStorage'],
    [`${C0}/resources/limits/nvidia.com~1gpu`, undefined],
    [`${C0}/image`, undefined],
    ['/memory', undefined],
  ])('%s → %s', (path, bound) => {
    expect(quantityBoundFor(path)).toBe(bound);
  });
});

describe('checkLeaf', () => {
  const bounds: Bounds = {
    maxMemory: '2Gi',
    maxCpu: '1500m',
    maxStorage: '100Gi',
    minReplicas: 1,
    maxReplicas: 5,
  };
  test.each([
    [`${C0}/resources/limits/memory`, '2Gi', undefined],
    [`${C0}/resources/limits/memory`, '2048Mi', undefined],
    [`${C0}/resources/limits/memory`, '2049Mi', 'maxMemory'],
    [`${C0}/resources/requests/memory`, '3G', 'maxMemory'],
    [`${C0}/resources/limits/cpu`, '1.5', undefined],
    [`${C0}/resources/limits/cpu`, 2, 'maxCpu'],
    [`${C0}/resources/requests/cpu`, '1501m', 'maxCpu'],
    ['/spec/resources/requests/storage', '101Gi', 'maxStorage'],
    ['/spec/resources/requests/storage', '50Gi', undefined],
    [`${C0}/resources/limits/memory`, 'lots', 'maxMemory'],
    ['/spec/replicas', 0, 'minReplicas'],
    ['/spec/replicas', 6, 'maxReplicas'],
    ['/spec/replicas', 5, undefined],
    ['/spec/replicas', '5', 'maxReplicas'],
    [`${C0}/image`, 'nginx', undefined],
  ])('%s = %p → %s', (path, value, bound) => {
    expect(checkLeaf({ path, value }, bounds)?.bound).toBe(bound);
  });

  test('the message names the bound and the value', () => {
    const v = checkLeaf({ path: `${C0}/resources/limits/memory`, value: '4Gi' }, bounds);
    expect(v?.message).toBe(`${C0}/resources/limits/memory 4Gi is above the bound maxMemory 2Gi`);
  });
});

describe('checkReplicas', () => {
  test.each([
    [0, { minReplicas: 0 }, undefined],
    [0, { minReplicas: 1 }, 'minReplicas'],
    [11, { maxReplicas: 10 }, 'maxReplicas'],
    [10, { maxReplicas: 10 }, undefined],
    [3, undefined, undefined],
  ])('%i with %p → %s', (n, bounds, bound) => {
    expect(checkReplicas(n, bounds as Bounds | undefined)?.bound).toBe(bound);
  });
});

describe('checkPaths', () => {
  const allowed = ['/spec/template/spec/containers', '/metadata/labels/'];
  test.each([
    [[`${C0}/resources`], undefined],
    [['/spec/template/spec/containers'], undefined],
    [['/metadata/labels/team'], undefined],
    [['/spec/template/spec/containersX'], 'allowedPatchPaths'],
    [['/spec/template/spec'], 'allowedPatchPaths'],
    [['/spec/replicas', `${C0}/image`], 'allowedPatchPaths'],
  ])('%p → %s', (touched, bound) => {
    expect(checkPaths(touched, allowed)?.bound).toBe(bound);
  });
  test('empty list allows everything', () => {
    expect(checkPaths(['/anything'], [])).toBeUndefined();
    expect(checkPaths(['/anything'], undefined)).toBeUndefined();
  });
});

describe('checkPatchBounds on whole patches', () => {
  const deployment = {
    spec: {
      replicas: 2,
      template: {
        spec: { containers: [{ name: 'app', image: 'a', resources: { limits: { memory: '1Gi' } } }] },
      },
    },
  };
  const bounds: Bounds = {
    maxMemory: '2Gi',
    maxReplicas: 4,
    allowedPatchPaths: ['/spec/template/spec/containers', '/spec/replicas'],
  };

  test.each([
    [
      'strategic within',
      'strategic',
      {
        spec: {
          template: { spec: { containers: [{ name: 'app', resources: { limits: { memory: '2Gi' } } }] } },
        },
      },
      undefined,
    ],
    [
      'strategic memory over',
      'strategic',
      {
        spec: {
          template: { spec: { containers: [{ name: 'app', resources: { limits: { memory: '3Gi' } } }] } },
        },
      },
      'maxMemory',
    ],
    ['merge replicas over', 'merge', { spec: { replicas: 9 } }, 'maxReplicas'],
    ['merge outside paths', 'merge', { metadata: { labels: { a: 'b' } } }, 'allowedPatchPaths'],
    [
      'json nested value over',
      'json',
      [{ op: 'replace', path: `${C0}/resources`, value: { limits: { memory: '8Gi' } } }],
      'maxMemory',
    ],
    [
      'json within',
      'json',
      [{ op: 'replace', path: `${C0}/resources/limits/memory`, value: '1536Mi' }],
      undefined,
    ],
    ['json outside', 'json', [{ op: 'add', path: '/spec/paused', value: true }], 'allowedPatchPaths'],
  ] as const)('%s', (_name, type, body, bound) => {
    expect(checkPatchBounds(patchEffect(type, body, deployment), bounds)?.bound).toBe(bound);
  });
});
