/**
 * The informer wrapper over client-node's real ListWatch (its cache and relist logic), with
 * a scripted watch transport in place of HTTP, so errors can be injected at will.
 */
import { describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import {
  apiPathOf,
  ResourceInformer,
  resourcePath,
  slim,
  WATCH_TIMEOUT_SECONDS,
  type ListFn,
} from '../../../src/runtime/informer.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { FakeTimers } from './fake-timers.js';
import { ScriptedWatch } from './scripted-watch.js';

interface Obj extends k8s.KubernetesObject {
  metadata: { name: string; namespace: string; resourceVersion: string };
}
const anObj = (name: string, rv: string, namespace = 'ns'): Obj => ({
  metadata: { name, namespace, resourceVersion: rv },
});

function anInformer(list: ListFn<Obj>) {
  const watch = new ScriptedWatch();
  const timers = new FakeTimers();
  const events: string[] = [];
  const informer = new ResourceInformer<Obj>({
    plural: 'remediations',
    apiPath: '/apis/kube-remediator.io/v1alpha1',
    namespace: '',
    list,
    factory: <T extends k8s.KubernetesObject>(path: string, l: ListFn<T>) =>
      new k8s.ListWatch<T>(path, watch as unknown as k8s.Watch, l, false),
    logger: silentLogger(),
    timers,
    now: timers.now,
    restartBackoffInitialMs: 1000,
    restartBackoffMaxMs: 4000,
  });
  informer.addHandlers({
    add: (o) => events.push(`add ${o.metadata?.name}`),
    update: (o) => events.push(`update ${o.metadata?.name}`),
    delete: (o) => events.push(`delete ${o.metadata?.name}`),
  });
  return { informer, watch, timers, events };
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await tick();
}

describe('resourcePath', () => {
  it('is namespaced or cluster-wide and asks the server to end each watch', () => {
    expect(
      resourcePath('remediations', 'team-a', apiPathOf({ group: 'kube-remediator.io', version: 'v1alpha1' })),
    ).toBe(
      `/apis/kube-remediator.io/v1alpha1/namespaces/team-a/remediations?timeoutSeconds=${WATCH_TIMEOUT_SECONDS}`,
    );
    expect(resourcePath('runbooks', '', '/apis/kube-remediator.io/v1alpha1')).toBe(
      `/apis/kube-remediator.io/v1alpha1/runbooks?timeoutSeconds=${WATCH_TIMEOUT_SECONDS}`,
    );
  });
});

describe('ResourceInformer', () => {
  it('lists, reports synced, serves the cache by (namespace, name) and passes watch events to handlers', async () => {
    const { informer, watch, events } = anInformer(() =>
      Promise.resolve({ items: [anObj('a', '1')], metadata: { resourceVersion: '1' } }),
    );
    expect(informer.hasSynced()).toBe(false);
    informer.start();
    await informer.waitForSync(1000);
    expect(informer.hasSynced()).toBe(true);
    expect(informer.get('ns', 'a')?.metadata.resourceVersion).toBe('1');
    expect(informer.get('other', 'a')).toBeUndefined();
    expect(watch.last().query.resourceVersion).toBe('1');

    watch.last().cb('ADDED', anObj('b', '2', 'ns2'));
    watch.last().cb('MODIFIED', anObj('a', '3'));
    watch.last().cb('DELETED', anObj('b', '4', 'ns2'));
    expect(events).toEqual(['add a', 'add b', 'update a', 'delete b']);
    expect(informer.list().map((o) => o.metadata.name)).toEqual(['a']);
    expect(informer.list('ns2')).toEqual([]);
    await informer.stop();
  });

  it('restarts with growing, capped backoff after errors and resets it after a success', async () => {
    let lists = 0;
    let failLists = 3;
    const { informer, watch, timers } = anInformer(() => {
      lists++;
      if (failLists > 0) {
        failLists--;
        return Promise.reject(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }));
      }
      return Promise.resolve({ items: [anObj('a', '1')], metadata: { resourceVersion: '1' } });
    });
    informer.start();
    await settle();
    expect(lists).toBe(1);
    // Delays with ±20% jitter: ~1 s, ~2 s, then the next list succeeds.
    timers.advance(1200);
    await settle();
    expect(lists).toBe(2);
    timers.advance(2400);
    await settle();
    expect(lists).toBe(3);
    expect(timers.pendingDelays()[0]).toBeGreaterThanOrEqual(3200);
    timers.advance(4800);
    await settle();
    expect(lists).toBe(4);
    expect(informer.hasSynced()).toBe(true);
    expect(informer.failing()).toBe(false);
    expect(watch.calls).toHaveLength(1);

    // A watch that fails with a non-410 error: client-node stops; we restart it from the
    // last resourceVersion after the initial delay again. Meanwhile the cache may fall behind.
    watch.last().done(Object.assign(new Error('Internal Server Error'), { statusCode: 500 }));
    await settle();
    expect(informer.failing()).toBe(true);
    expect(timers.pendingDelays()[0]).toBeLessThanOrEqual(1200);
    timers.advance(1200);
    await settle();
    expect(informer.failing()).toBe(false);
    expect(watch.calls).toHaveLength(2);
    expect(watch.last().query.resourceVersion).toBe('1');
    expect(lists).toBe(4);
    await informer.stop();
  });

  it('relists on 410 Gone without our restart, and a relist reports deletions it missed', async () => {
    let items = [anObj('a', '1'), anObj('b', '1')];
    const { informer, watch, timers, events } = anInformer(() =>
      Promise.resolve({ items, metadata: { resourceVersion: '5' } }),
    );
    informer.start();
    await informer.waitForSync(1000);
    items = [anObj('a', '6')];
    watch.last().done(Object.assign(new Error('Gone'), { statusCode: 410 }));
    await settle();
    expect(timers.pendingCount()).toBe(0);
    expect(events).toEqual(['add a', 'add b', 'delete b', 'update a']);
    expect(watch.calls).toHaveLength(2);
    await informer.stop();
  });

  it('treats the abort of its own stop() as no error', async () => {
    const { informer, watch, timers } = anInformer(() =>
      Promise.resolve({ items: [], metadata: { resourceVersion: '1' } }),
    );
    informer.start();
    await informer.waitForSync(1000);
    await informer.stop();
    await settle();
    expect(watch.last().controller.signal.aborted).toBe(true);
    expect(timers.pendingCount()).toBe(0);
    expect(informer.healthy()).toBe(true);
  });

  it('rejects waitForSync after its timeout when the list keeps failing', async () => {
    const { informer } = anInformer(() => Promise.reject(new Error('forbidden')));
    informer.start();
    await expect(informer.waitForSync(20)).rejects.toMatchObject({ code: 'KR_ERR_KUBE_UNAVAILABLE' });
    await informer.stop();
  });

  it('is unhealthy when wedged: failing with no sign of life for a long time', async () => {
    const { informer, timers } = anInformer(() => Promise.reject(new Error('connect ECONNREFUSED')));
    informer.start();
    await settle();
    expect(informer.healthy()).toBe(true);
    for (let i = 0; i < 50; i++) {
      timers.advance(30_000);
      await settle();
    }
    expect(informer.healthy()).toBe(false);
    await informer.stop();
  });
});

describe('slim', () => {
  it('drops managedFields and the last-applied annotation, keeps every other annotation', () => {
    const o = {
      metadata: {
        name: 'a',
        managedFields: [{ manager: 'kubectl' }],
        annotations: {
          'kubectl.kubernetes.io/last-applied-configuration': '{"big":"copy"}',
          'kube-remediator.io/approved-by': 'alice',
        },
      },
      spec: { x: 1 },
    } as k8s.KubernetesObject;
    expect(slim(o)).toBe(o);
    expect(o).toEqual({
      metadata: { name: 'a', annotations: { 'kube-remediator.io/approved-by': 'alice' } },
      spec: { x: 1 },
    });
    expect(slim({})).toEqual({});
  });
});
