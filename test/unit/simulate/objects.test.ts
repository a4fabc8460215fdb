/**
 * The in-memory object set answers the actions' requests as the API server would: label
 * selectors, strategic merge of named lists, and reads and writes through client-node itself.
 */
import { describe, expect, it } from '@jest/globals';
import { ObjectSet, selectorMatches, strategicMerge } from '../../../src/simulate/objects.js';
import { RawObjectApi } from '../../../src/kube/raw-object.js';
import { PATCH, statusCode } from '../../../src/kube/client.js';

describe('selectorMatches', () => {
  const labels = { app: 'web', tier: 'front', canary: '' };
  it.each([
    [undefined, true],
    ['', true],
    ['app=web', true],
    ['app==web', true],
    ['app=api', false],
    ['app!=api', true],
    ['app=web,tier=front', true],
    ['app=web,tier=back', false],
    ['app in (api, web)', true],
    ['app notin (api, web)', false],
    ['tier', true],
    ['!tier', false],
    ['missing', false],
    ['!missing', true],
    ['app in (web),!missing', true],
  ])('%j → %s', (selector, want) => {
    expect(selectorMatches(selector, labels)).toBe(want);
  });
});

describe('strategicMerge', () => {
  it.each([
    ['merges maps', { a: 1, b: { c: 2 } }, { b: { d: 3 } }, { a: 1, b: { c: 2, d: 3 } }],
    ['null deletes', { a: 1, b: 2 }, { b: null }, { a: 1 }],
    [
      'named lists merge by name',
      {
        containers: [
          { name: 'app', image: 'a:1' },
          { name: 'side', image: 's:1' },
        ],
      },
      { containers: [{ name: 'app', image: 'a:2' }] },
      {
        containers: [
          { name: 'app', image: 'a:2' },
          { name: 'side', image: 's:1' },
        ],
      },
    ],
    [
      'a new name is appended',
      { env: [{ name: 'A', value: '1' }] },
      { env: [{ name: 'B', value: '2' }] },
      {
        env: [
          { name: 'A', value: '1' },
          { name: 'B', value: '2' },
        ],
      },
    ],
    ['other lists replace', { args: ['a', 'b'] }, { args: ['c'] }, { args: ['c'] }],
    ['$patch: replace replaces', { t: { a: 1, b: 2 } }, { t: { $patch: 'replace', c: 3 } }, { t: { c: 3 } }],
    ['directives are dropped', { a: 1 }, { $setElementOrder: { x: [] }, b: 2 }, { a: 1, b: 2 }],
  ])('%s', (_what, target, patch, want) => {
    expect(strategicMerge(target, patch)).toEqual(want);
  });
});

describe('ObjectSet', () => {
  const deployment = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace: 'shop', labels: { app: 'web' } },
    spec: { replicas: 2, template: { spec: { containers: [{ name: 'web', image: 'web:1' }] } } },
  };
  const ref = { apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'shop', name: 'web' };

  it('answers GET, LIST by selector and the scale subresource through client-node', async () => {
    const clients = new ObjectSet([deployment]).clients();
    const api = RawObjectApi.forConfig(clients.kc);
    const got = await api.get(ref);
    expect(got.metadata).toMatchObject({
      name: 'web',
      namespace: 'shop',
      resourceVersion: '1',
      generation: 1,
    });
    expect(
      (await api.listIn({ apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'shop' }, 'app=web')).items,
    ).toHaveLength(1);
    expect(
      (await api.listIn({ apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'shop' }, 'app=api')).items,
    ).toHaveLength(0);
    const scale = await clients.apps.readNamespacedDeploymentScale({ name: 'web', namespace: 'shop' });
    expect(scale.spec?.replicas).toBe(2);
  });

  it('answers 404 for what it does not hold, and 405 for writes when read-only', async () => {
    const clients = new ObjectSet([deployment]).clients();
    const api = RawObjectApi.forConfig(clients.kc);
    await expect(api.get({ ...ref, name: 'api' })).rejects.toMatchObject({ code: 404 });
    const err = await clients.apps
      .patchNamespacedDeploymentScale(
        { name: 'web', namespace: 'shop', body: { spec: { replicas: 3 } } },
        PATCH.merge,
      )
      .catch((e: unknown) => e);
    expect(statusCode(err)).toBe(405);
  });

  it('a writable set applies patches (generation bumps on spec changes), precondition conflicts, deletes', async () => {
    const clients = new ObjectSet([deployment], { writable: true }).clients();
    const api = RawObjectApi.forConfig(clients.kc);
    await clients.apps.patchNamespacedDeploymentScale(
      { name: 'web', namespace: 'shop', body: { spec: { replicas: 0 } } },
      PATCH.merge,
    );
    const after = await api.get(ref);
    expect(after.spec).toMatchObject({ replicas: 0 });
    expect(after.metadata).toMatchObject({ generation: 2 });
    const stale = await clients.apps
      .patchNamespacedDeploymentScale(
        {
          name: 'web',
          namespace: 'shop',
          body: { metadata: { resourceVersion: '1' }, spec: { replicas: 3 } },
        },
        PATCH.merge,
      )
      .catch((e: unknown) => e);
    expect(statusCode(stale)).toBe(409);
    const failedTest = await clients.apps
      .patchNamespacedDeployment(
        { name: 'web', namespace: 'shop', body: [{ op: 'test', path: '/spec/replicas', value: 5 }] },
        PATCH.json,
      )
      .catch((e: unknown) => e);
    expect(statusCode(failedTest)).toBe(422);
  });
});
