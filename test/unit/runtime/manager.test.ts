/**
 * The Manager's wiring without a cluster: client-node's real ListWatch fed by a scripted
 * watch, leader election off. Leadership and the real API server are covered in e2e.
 */
import { EventEmitter } from 'node:events';
import { afterEach, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import type { Remediation, Runbook } from '../../../src/api/v1alpha1/schema.js';
import { loadConfig } from '../../../src/config/config.js';
import type { ListFn } from '../../../src/runtime/informer.js';
import { installSignalHandlers, Manager, type ControllerOptions } from '../../../src/runtime/manager.js';
import { KINDS, type Kinds } from '../../../src/controller/caches.js';
import type { Reconciler, Request } from '../../../src/runtime/types.js';
import type { KubeClients } from '../../../src/kube/client.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { createMetrics } from '../../../src/observability/metrics.js';
import { ERROR_CODES, RemediatorError } from '../../../src/util/errors.js';
import { ScriptedWatch } from './scripted-watch.js';

const aRem = (name: string, runbook = 'rb'): Remediation => ({
  apiVersion: 'kube-remediator.io/v1alpha1',
  kind: 'Remediation',
  metadata: { name, namespace: 'ns', resourceVersion: '1' },
  spec: { runbookRef: { name: runbook } },
});
const aRunbook = (name: string): Runbook =>
  ({
    apiVersion: 'kube-remediator.io/v1alpha1',
    kind: 'Runbook',
    metadata: { name, namespace: 'ns', resourceVersion: '1' },
    spec: {},
  }) as unknown as Runbook;

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`timed out waiting for ${what}`);
}

function aManager(
  objects: { remediations?: Remediation[]; runbooks?: Runbook[] },
  opts: { gracefulShutdownTimeoutMs?: number } = {},
) {
  const config = loadConfig({
    env: {},
    overrides: { 'leaderElection.enabled': false, 'controller.workers': 2 },
  });
  const watches = { remediations: new ScriptedWatch(), runbooks: new ScriptedWatch() };
  const list = (plural: string) =>
    Promise.resolve({
      items: plural === 'runbooks' ? (objects.runbooks ?? []) : (objects.remediations ?? []),
      metadata: { resourceVersion: '1' },
    });
  const custom = {
    listClusterCustomObject: (p: { plural: string }) => list(p.plural),
    listNamespacedCustomObject: (p: { plural: string }) => list(p.plural),
  } as unknown as k8s.CustomObjectsApi;
  const metrics = createMetrics({ defaultMetrics: false });
  const manager = new Manager<Kinds>({
    kinds: KINDS,
    config,
    clients: { custom } as unknown as KubeClients,
    metrics,
    logger: silentLogger(),
    serveProbes: false,
    baseBackoffMs: 1,
    gracefulShutdownTimeoutMs: opts.gracefulShutdownTimeoutMs ?? 5000,
    informerFactory: <T extends k8s.KubernetesObject>(path: string, l: ListFn<T>) =>
      new k8s.ListWatch<T>(
        path,
        (path.includes('/runbooks') ? watches.runbooks : watches.remediations) as unknown as k8s.Watch,
        l,
        false,
      ),
  });
  return { manager, metrics, watches };
}

function recorder(behaviour: (req: Request, attempt: number) => Promise<void> = () => Promise.resolve()) {
  const calls: string[] = [];
  const reconciler: Reconciler = {
    reconcile: (req) => {
      calls.push(req.name);
      return behaviour(req, calls.filter((c) => c === req.name).length);
    },
  };
  return { calls, reconciler };
}

const controller = (
  reconciler: Reconciler,
  extra: Partial<ControllerOptions<Kinds>> = {},
): ControllerOptions<Kinds> => ({
  name: 'remediation',
  forObject: 'remediation',
  reconciler,
  ...extra,
});

describe('Manager', () => {
  const managers: Manager<Kinds>[] = [];
  afterEach(async () => {
    await Promise.all(managers.splice(0).map((m) => m.stop()));
  });

  it('is not ready before its caches sync, ready after, and not ready from the first moment of a stop', async () => {
    const { manager } = aManager({ remediations: [aRem('a')] });
    managers.push(manager);
    const r = recorder();
    manager.addController(controller(r.reconciler));
    expect(manager.readiness()).toEqual({ ok: false, reason: 'caches not synced' });
    expect(manager.health()).toEqual({ ok: true });
    await manager.start();
    expect(manager.readiness()).toEqual({ ok: true });
    expect(manager.cache('remediation').get('ns', 'a')?.metadata.name).toBe('a');
    await until(() => r.calls.includes('a'), 'a reconciled');
    const stopping = manager.stop();
    expect(manager.readiness()).toEqual({ ok: false, reason: 'shutting down' });
    expect(await stopping).toEqual({ reason: 'requested', exitCode: 0, drained: true });
  });

  it('enqueues the keys that watches map to, from the other kind', async () => {
    const { manager, watches } = aManager({ remediations: [], runbooks: [aRunbook('rb')] });
    managers.push(manager);
    const r = recorder();
    manager.addController(
      controller(r.reconciler, {
        watches: [
          {
            object: 'runbook',
            // Every Remediation using this Runbook, from the cache (as a real mapper does).
            map: (rb) =>
              manager
                .cache('remediation')
                .list(rb.metadata.namespace)
                .filter((x) => x.spec.runbookRef?.name === rb.metadata.name)
                .map((x) => ({ namespace: 'ns', name: x.metadata.name! })),
          },
        ],
      }),
    );
    await manager.start();
    watches.remediations.last().cb('ADDED', aRem('uses-rb'));
    watches.remediations.last().cb('ADDED', aRem('other', 'other-rb'));
    await until(() => r.calls.length === 2, 'two adds reconciled');
    watches.runbooks
      .last()
      .cb('MODIFIED', { ...aRunbook('rb'), metadata: { ...aRunbook('rb').metadata, resourceVersion: '2' } });
    await until(() => r.calls.filter((c) => c === 'uses-rb').length === 2, 'the runbook change mapped');
    expect(r.calls.filter((c) => c === 'other')).toHaveLength(1);
  });

  it('does not retry a terminal error, and retries a plain one until it passes', async () => {
    const { manager, metrics } = aManager({ remediations: [aRem('terminal'), aRem('flaky')] });
    managers.push(manager);
    const r = recorder((req, attempt) => {
      if (req.name === 'terminal')
        return Promise.reject(new RemediatorError(ERROR_CODES.invalidSpec, 'bad spec', { terminal: true }));
      if (attempt <= 3) return Promise.reject(new Error('transient'));
      return Promise.resolve();
    });
    manager.addController(controller(r.reconciler));
    await manager.start();
    await until(() => r.calls.filter((c) => c === 'flaky').length === 4, 'flaky passes on the fourth try');
    await new Promise((res) => setTimeout(res, 50));
    expect(r.calls.filter((c) => c === 'terminal')).toHaveLength(1);
    const json = await metrics.registry.getMetricsAsJSON();
    const total = json.find((m) => m.name === 'controller_runtime_reconcile_total')!;
    const v = (result: string) =>
      total.values.find((x) => x.labels.controller === 'remediation' && x.labels.result === result)?.value;
    expect(v('error')).toBe(4);
    expect(v('success')).toBe(1);
    expect(
      json
        .find((m) => m.name === 'controller_runtime_reconcile_errors_total')!
        .values.find((x) => x.labels.controller === 'remediation')?.value,
    ).toBe(4);
  });

  it('counts the workers running a reconcile, per controller', async () => {
    const { manager, metrics } = aManager({ remediations: [aRem('a'), aRem('b'), aRem('c')] });
    managers.push(manager);
    const release: (() => void)[] = [];
    const r = recorder(() => new Promise<void>((res) => release.push(res)));
    manager.addController(controller(r.reconciler));
    const active = async (): Promise<number | undefined> =>
      (await metrics.registry.getMetricsAsJSON())
        .find((m) => m.name === 'controller_runtime_active_workers')!
        .values.find((x) => x.labels.controller === 'remediation')?.value;
    expect(await active()).toBe(0);
    await manager.start();
    // Two workers: both busy, the third key waits in the queue.
    await until(() => r.calls.length === 2, 'both workers started');
    expect(await active()).toBe(2);
    release.shift()!();
    await until(() => r.calls.length === 3, 'the third key taken');
    expect(await active()).toBe(2);
    for (const done of release.splice(0)) done();
    expect((await manager.stop()).drained).toBe(true);
    expect(await active()).toBe(0);
  });

  it('refuses controllers registered late or twice', async () => {
    const { manager } = aManager({});
    managers.push(manager);
    const r = recorder();
    manager.addController(controller(r.reconciler));
    expect(() => manager.addController(controller(r.reconciler))).toThrow(/registered twice/);
    await manager.start();
    expect(() => manager.addController(controller(r.reconciler, { name: 'late' }))).toThrow(/after start/);
  });

  it('bounds the wait for a reconcile that ignores the abort, and reports it was not drained', async () => {
    const { manager } = aManager({ remediations: [aRem('stuck')] }, { gracefulShutdownTimeoutMs: 50 });
    managers.push(manager);
    let release!: () => void;
    const r = recorder(() => new Promise<void>((res) => (release = res)));
    manager.addController(controller(r.reconciler));
    await manager.start();
    await until(() => r.calls.length === 1, 'stuck started');
    expect(await manager.stop()).toEqual({ reason: 'requested', exitCode: 0, drained: false });
    release();
  });

  it('exits with the manager code after a signal, and at once on a second signal', async () => {
    const { manager } = aManager({ remediations: [aRem('slow')] }, { gracefulShutdownTimeoutMs: 5000 });
    managers.push(manager);
    let release!: () => void;
    const r = recorder(() => new Promise<void>((res) => (release = res)));
    manager.addController(controller(r.reconciler));
    await manager.start();
    await until(() => r.calls.length === 1, 'slow started');

    const signals = new EventEmitter();
    const exits: number[] = [];
    const uninstall = installSignalHandlers(manager, {
      target: signals as unknown as NodeJS.Process,
      exit: (c) => exits.push(c),
    });
    signals.emit('SIGTERM', 'SIGTERM');
    expect(manager.readiness().ok).toBe(false);
    signals.emit('SIGINT', 'SIGINT');
    expect(exits).toEqual([1]);
    release();
    expect((await manager.finished()).reason).toBe('signal');
    await until(() => exits.length === 2, 'exit after finish');
    expect(exits).toEqual([1, 0]);
    uninstall();
    expect(signals.listenerCount('SIGTERM')).toBe(0);
  });
});
