import { describe, expect, test } from '@jest/globals';
import {
  guardedRevertOps,
  patchEffect,
  priorValues,
  revertOps,
  type JsonPatchOp,
  type PriorValue,
} from '../../../src/actions/kubernetes/patch-paths.js';
import { applyJsonPatch, applyMergePatch } from '../../../src/actions/kubernetes/patch-apply.js';

const dep = () => ({
  metadata: { name: 'web', labels: { app: 'web' }, annotations: { a: '1' } },
  spec: {
    replicas: 2,
    template: {
      spec: {
        containers: [
          {
            name: 'app',
            image: 'app:1',
            env: [{ name: 'A', value: '1' }],
            resources: { limits: { memory: '1Gi' } },
          },
          { name: 'side', image: 'side:1' },
        ],
      },
    },
  },
});

const C = '/spec/template/spec/containers';

describe('patchEffect: touched paths', () => {
  test.each([
    ['merge scalar', 'merge', { spec: { replicas: 3 } }, ['/spec/replicas']],
    [
      'merge new subtree',
      'merge',
      { spec: { paused: true }, metadata: { labels: { team: 'x' } } },
      ['/spec/paused', '/metadata/labels/team'],
    ],
    ['merge delete', 'merge', { metadata: { annotations: { a: null } } }, ['/metadata/annotations/a']],
    ['merge list is a leaf', 'merge', { spec: { template: { spec: { containers: [{ name: 'x' }] } } } }, [C]],
    [
      'strategic keyed item',
      'strategic',
      { spec: { template: { spec: { containers: [{ name: 'side', image: 'side:2' }] } } } },
      [`${C}/1/image`],
    ],
    [
      'strategic new item touches the list',
      'strategic',
      { spec: { template: { spec: { containers: [{ name: 'new', image: 'n' }] } } } },
      [C],
    ],
    [
      'strategic delete item touches the list',
      'strategic',
      { spec: { template: { spec: { containers: [{ name: 'app', $patch: 'delete' }] } } } },
      [C],
    ],
    [
      'strategic env by name',
      'strategic',
      { spec: { template: { spec: { containers: [{ name: 'app', env: [{ name: 'A', value: '2' }] }] } } } },
      [`${C}/0/env/0/value`],
    ],
    [
      'strategic $patch replace',
      'strategic',
      { spec: { template: { $patch: 'replace', spec: {} } } },
      ['/spec/template'],
    ],
    [
      'strategic setElementOrder',
      'strategic',
      {
        spec: { template: { spec: { '$setElementOrder/containers': [{ name: 'side' }, { name: 'app' }] } } },
      },
      [C],
    ],
    ['json replace', 'json', [{ op: 'replace', path: `${C}/0/image`, value: 'app:2' }], [`${C}/0/image`]],
    [
      'json add to object',
      'json',
      [{ op: 'add', path: '/metadata/labels/x', value: 'y' }],
      ['/metadata/labels/x'],
    ],
    [
      'json append shifts: whole list',
      'json',
      [{ op: 'add', path: `${C}/0/env/-`, value: { name: 'B', value: '2' } }],
      [`${C}/0/env`],
    ],
    ['json remove item shifts: whole list', 'json', [{ op: 'remove', path: `${C}/1` }], [C]],
    [
      'json move touches both ends',
      'json',
      [{ op: 'move', from: '/metadata/annotations/a', path: '/metadata/labels/a' }],
      ['/metadata/labels/a', '/metadata/annotations/a'],
    ],
    ['json test touches nothing', 'json', [{ op: 'test', path: '/spec/replicas', value: 2 }], []],
    [
      'nested paths collapse into the outer one',
      'json',
      [
        { op: 'replace', path: `${C}/0/image`, value: 'x' },
        { op: 'add', path: `${C}/-`, value: { name: 'z' } },
      ],
      [C],
    ],
  ] as const)('%s', (_name, type, body, touched) => {
    expect(patchEffect(type, body, dep()).touched.sort()).toEqual([...touched].sort());
  });

  test('leaves carry nested values and copied values', () => {
    const e = patchEffect(
      'json',
      [
        { op: 'replace', path: `${C}/0/resources`, value: { limits: { memory: '2Gi', cpu: '1' } } },
        { op: 'copy', from: `${C}/0/resources/limits/memory`, path: `${C}/1/resources` },
      ],
      dep(),
    );
    expect(e.leaves).toEqual([
      { path: `${C}/0/resources/limits/memory`, value: '2Gi' },
      { path: `${C}/0/resources/limits/cpu`, value: '1' },
      { path: `${C}/1/resources`, value: '1Gi' },
    ]);
  });
});

describe('priorValues and revertOps', () => {
  test('records present and absent values', () => {
    expect(priorValues(dep(), ['/spec/replicas', '/spec/paused', `${C}/1/image`])).toEqual({
      '/spec/replicas': { value: 2 },
      '/spec/paused': { absent: true },
      [`${C}/1/image`]: { value: 'side:1' },
    });
  });

  test.each([
    [
      'merge',
      { spec: { replicas: 5, paused: true }, metadata: { labels: { team: 'x' }, annotations: { a: null } } },
    ],
    [
      'json',
      [
        { op: 'add', path: `${C}/0/env/-`, value: { name: 'B', value: '2' } },
        { op: 'remove', path: '/metadata/labels' },
      ],
    ],
    [
      'json',
      [
        { op: 'remove', path: `${C}/1` },
        { op: 'add', path: '/spec/template/metadata', value: { labels: { a: 'b' } } },
      ],
    ],
    ['json', [{ op: 'move', from: '/metadata/annotations/a', path: '/metadata/labels/a' }]],
  ] as const)('%s patch then revert gives back the original (%#)', (type, body) => {
    const original = dep();
    const touched = patchEffect(type, body, original).touched;
    const prior = priorValues(original, touched);
    const patched =
      type === 'json'
        ? applyJsonPatch(original, body as unknown as JsonPatchOp[])
        : applyMergePatch(original, body);
    expect(patched).not.toEqual(original);
    const reverted = applyJsonPatch(patched, revertOps(prior, patched));
    expect(reverted).toEqual(original);
    expect(revertOps(prior, reverted)).toEqual([]);
  });

  test('re-creates missing parents', () => {
    const prior = { '/metadata/labels/app': { value: 'web' } };
    expect(revertOps(prior, { metadata: {} })).toEqual([
      { op: 'add', path: '/metadata/labels', value: { app: 'web' } },
    ]);
  });

  test('removes later array indexes first', () => {
    const ops = revertOps(
      { '/a/2': { absent: true }, '/a/10': { absent: true } },
      { a: Array.from({ length: 11 }, (_, i) => i) },
    );
    expect(ops.map((o) => o.path)).toEqual(['/a/10', '/a/2']);
  });
});

describe('guardedRevertOps: compare-and-swap', () => {
  const prior: Record<string, PriorValue> = {
    '/spec/replicas': { value: 2 },
    '/spec/paused': { absent: true },
  };
  const after = { '/spec/replicas': { value: 5 }, '/spec/paused': { value: true } };
  const withSpec = (spec: Record<string, unknown>) => ({ ...dep(), spec: { ...dep().spec, ...spec } });

  test("restores paths that still hold the step's values, guarded by tests", () => {
    const patched = withSpec({ replicas: 5, paused: true });
    const res = guardedRevertOps(prior, after, patched);
    expect(res).toEqual({
      ops: [
        { op: 'test', path: '/spec/replicas', value: 5 },
        { op: 'test', path: '/spec/paused', value: true },
        { op: 'replace', path: '/spec/replicas', value: 2 },
        { op: 'remove', path: '/spec/paused' },
      ],
    });
    if ('ops' in res) expect(applyJsonPatch(patched, res.ops)).toEqual(dep());
  });

  test('paths already back need nothing; all back is no ops', () => {
    expect(guardedRevertOps(prior, after, dep())).toEqual({ ops: [] });
    expect(guardedRevertOps(prior, after, withSpec({ paused: true }))).toEqual({
      ops: [
        { op: 'test', path: '/spec/paused', value: true },
        { op: 'remove', path: '/spec/paused' },
      ],
    });
  });

  test('a value changed since the step refuses', () => {
    expect(guardedRevertOps(prior, after, withSpec({ replicas: 7, paused: true }))).toEqual({
      changed: { path: '/spec/replicas', now: { value: 7 }, after: { value: 5 } },
    });
    expect(guardedRevertOps(prior, after, withSpec({ replicas: 5, paused: false }))).toEqual({
      changed: { path: '/spec/paused', now: { value: false }, after: { value: true } },
    });
  });

  test('without a recorded after, only an already restored object is done', () => {
    expect(guardedRevertOps(prior, undefined, dep())).toEqual({ ops: [] });
    expect(guardedRevertOps(prior, undefined, withSpec({ replicas: 5 }))).toEqual({
      changed: { path: '/spec/replicas', now: { value: 5 }, after: undefined },
    });
  });
});

describe('applyJsonPatch', () => {
  test('test op failure throws', () => {
    expect(() => applyJsonPatch(dep(), [{ op: 'test', path: '/spec/replicas', value: 3 }])).toThrow(
      /test failed/,
    );
  });
  test('missing path throws', () => {
    expect(() => applyJsonPatch(dep(), [{ op: 'replace', path: '/spec/nope/x', value: 1 }])).toThrow(
      /does not exist/,
    );
  });
  test('does not change its input', () => {
    const d = dep();
    applyJsonPatch(d, [{ op: 'replace', path: '/spec/replicas', value: 9 }]);
    expect(d.spec.replicas).toBe(2);
  });
});
