import { describe, expect, test } from '@jest/globals';
import {
  chooseRevision,
  currentRevision,
  deploymentUndoPatch,
  planUndo,
  revisionPatch,
  templateMatches,
} from '../../../src/actions/kubernetes/rollout-undo.js';

const h = (...revs: number[]) =>
  revs.map((revision) => ({ revision, item: { metadata: { name: `r${revision}` } } }));

describe('chooseRevision', () => {
  test.each([
    ['previous of three', h(1, 2, 3), undefined, 2],
    ['unsorted', h(3, 1, 2), undefined, 2],
    ['explicit', h(1, 2, 3), 1, 1],
    ['explicit current', h(1, 2, 3), 3, 3],
    ['0 means previous', h(4, 7), 0, 4],
    ['rs without revision ignored', h(0, 5, 6), undefined, 5],
  ])('%s', (_name, history, to, want) => {
    const c = chooseRevision(history, to);
    expect('error' in c ? c.error : c.revision).toBe(want);
  });
  test.each([
    ['only one', h(1), undefined, 'no previous revision to roll back to'],
    ['none', h(), undefined, 'no previous revision to roll back to'],
    ['missing', h(1, 2), 9, 'revision 9 not found (known: 1, 2)'],
  ])('%s', (_name, history, to, error) => {
    expect(chooseRevision(history, to)).toEqual({ error });
  });
});

const tpl = (image: string, hash?: string) => ({
  metadata: { labels: { app: 'web', ...(hash ? { 'pod-template-hash': hash } : {}) } },
  spec: { containers: [{ name: 'app', image }] },
});
const deployment = (paused = false) => ({
  kind: 'Deployment',
  metadata: {
    name: 'web',
    uid: 'd1',
    annotations: {
      'deployment.kubernetes.io/revision': '3',
      'kubectl.kubernetes.io/last-applied-configuration': '{}',
      note: 'current',
    },
  },
  spec: { paused, template: tpl('app:3') },
});
const rs = (revision: number, image: string) => ({
  metadata: {
    name: `web-${revision}`,
    annotations: {
      'deployment.kubernetes.io/revision': String(revision),
      note: `rev${revision}`,
      'deployment.kubernetes.io/desired-replicas': '2',
    },
  },
  spec: { template: tpl(image, `h${revision}`) },
});
const history = [1, 2, 3].map((r) => ({ revision: r, item: rs(r, `app:${r}`) }));

describe('planUndo', () => {
  test('Deployment: previous revision, before/after', () => {
    expect(planUndo(deployment(), history, undefined)).toEqual({
      before: { revision: 3 },
      after: { revision: 2 },
    });
  });
  test('paused Deployment is refused', () => {
    expect(planUndo(deployment(true), history, undefined).refused).toMatchObject({
      reason: 'Paused',
      code: 'KR_ERR_ACTION_REFUSED',
    });
  });
  test('unknown revision is refused', () => {
    expect(planUndo(deployment(), history, 7).refused?.message).toBe(
      'Deployment web: revision 7 not found (known: 1, 2, 3)',
    );
  });
  test('StatefulSet: current from status.updateRevision', () => {
    const sts = { kind: 'StatefulSet', metadata: { name: 'db' }, status: { updateRevision: 'db-b' } };
    const crs = [
      { revision: 1, item: { metadata: { name: 'db-a' } } },
      { revision: 2, item: { metadata: { name: 'db-b' } } },
    ];
    expect(currentRevision(sts, crs)).toBe(2);
    expect(planUndo(sts, crs, undefined)).toEqual({ before: { revision: 2 }, after: { revision: 1 } });
  });
});

describe('Deployment undo patch (as kubectl)', () => {
  test('replaces the template without pod-template-hash and the annotations, keeping the skip-list', () => {
    const ops = deploymentUndoPatch(deployment(), rs(2, 'app:2'), 'uid/1/1');
    expect(ops).toEqual([
      { op: 'replace', path: '/spec/template', value: tpl('app:2') },
      {
        op: 'replace',
        path: '/metadata/annotations',
        value: {
          'deployment.kubernetes.io/revision': '3',
          'kubectl.kubernetes.io/last-applied-configuration': '{}',
          note: 'rev2',
          'kube-remediator.io/last-action': 'uid/1/1',
        },
      },
    ]);
  });
  test('templateMatches ignores the hash label', () => {
    expect(templateMatches(deployment(), rs(3, 'app:3'))).toBe(true);
    expect(templateMatches(deployment(), rs(2, 'app:2'))).toBe(false);
  });
});

describe('ControllerRevision undo patch', () => {
  test('is the revision data plus our stamp', () => {
    const cr = {
      data: {
        spec: { template: { $patch: 'replace', spec: { containers: [{ name: 'db', image: 'db:1' }] } } },
      },
    };
    expect(revisionPatch(cr, 's')).toEqual({
      spec: { template: { $patch: 'replace', spec: { containers: [{ name: 'db', image: 'db:1' }] } } },
      metadata: { annotations: { 'kube-remediator.io/last-action': 's' } },
    });
  });
});
