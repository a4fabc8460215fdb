/**
 * The Manager against a real API server with trivial reconcilers: keys reach the reconciler,
 * failures back off, requeue-after comes back, only the leader works, and a graceful stop
 * hands over at once.
 */
import { EventEmitter } from 'node:events';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { loadConfig } from '../../../src/config/config.js';
import { installSignalHandlers, Manager, type ManagerOptions } from '../../../src/runtime/manager.js';
import { KINDS, type Kinds } from '../../../src/controller/caches.js';
import type { ReconcileContext, Request, Result } from '../../../src/runtime/types.js';
import { remediations } from '../../../src/kube/resources.js';
import { createMetrics } from '../../../src/observability/metrics.js';
import { createNamespace, deleteNamespace, testClients } from '../../support/kube.js';
import { aRemediation, eventually, recordingLogger } from './helpers.js';

type ReconcileFn = (req: Request, ctx: ReconcileContext) => Promise<Result | void>;

describe('Manager on a real API server', () => {
  let ns: string;
  let leaseSeq = 0;
  const managers: Manager<Kinds>[] = [];
  const rems = () => remediations(testClients());

  function aManager(
    identity: string,
    opts: {
      leaseName: string;
      reconcile: ReconcileFn;
      extra?: Partial<ManagerOptions<Kinds>>;
      overrides?: Record<string, unknown>;
    },
  ) {
    const config = loadConfig({
      env: {},
      overrides: {
        watchNamespace: ns,
        'probes.host': '127.0.0.1',
        'probes.port': 0,
        'leaderElection.namespace': ns,
        'leaderElection.leaseName': opts.leaseName,
        'leaderElection.identity': identity,
        // Long enough that a renewal stalled on a loaded machine does not end a test's leadership.
        'leaderElection.leaseDuration': '8s',
        'leaderElection.renewDeadline': '6s',
        'leaderElection.retryPeriod': '250ms',
        'controller.workers': 2,
        'controller.maxBackoff': '2s',
        ...opts.overrides,
      },
    });
    const metrics = createMetrics({ defaultMetrics: false });
    const { logger, records } = recordingLogger();
    const manager = new Manager<Kinds>({
      kinds: KINDS,
      config,
      clients: testClients(),
      metrics,
      logger,
      baseBackoffMs: 100,
      ...opts.extra,
    });
    manager.addController({
      name: 'remediation',
      forObject: 'remediation',
      reconciler: { reconcile: opts.reconcile },
    });
    managers.push(manager);
    return { manager, metrics, records };
  }

  async function probe(m: Manager<Kinds>, path: string): Promise<number> {
    return (await fetch(`${m.probeUrl()}${path}`)).status;
  }

  beforeAll(async () => {
    ns = await createNamespace('rt-manager');
  });
  afterEach(async () => {
    await Promise.all(managers.splice(0).map((m) => m.stop()));
  });
  afterAll(async () => {
    await deleteNamespace(ns);
  });

  it('reconciles the key of every Remediation, existing and new, and reports it', async () => {
    await rems().create(ns, aRemediation('existing'));
    const seen = new Set<string>();
    const { manager, metrics, records } = aManager('m1', {
      leaseName: `mgr-${++leaseSeq}`,
      reconcile: (req) => {
        seen.add(`${req.namespace}/${req.name}`);
        return Promise.resolve();
      },
    });
    await manager.start();
    expect(await probe(manager, '/readyz')).toBe(200);
    expect(await probe(manager, '/healthz')).toBe(200);
    expect(manager.cache('remediation').get(ns, 'existing')?.metadata.name).toBe('existing');

    for (const n of ['one', 'two', 'three']) await rems().create(ns, aRemediation(n));
    await eventually(() => ['existing', 'one', 'two', 'three'].every((n) => seen.has(`${ns}/${n}`)), {
      what: 'all keys reconciled',
    });
    expect(manager.isLeader()).toBe(true);

    const text = await (await fetch(`${manager.probeUrl()}/metrics`)).text();
    expect(text).toMatch(
      /controller_runtime_reconcile_total\{controller="remediation",result="success"\} [1-9]/,
    );
    expect(text).toContain(`leader_election_master_status{name="mgr-${leaseSeq}"} 1`);
    // One observation per pass, so at least one for each of the four keys (a histogram that
    // is registered but never observed reads 0 here).
    const m = (await metrics.registry.getMetricsAsJSON()).find(
      (x) => x.name === 'controller_runtime_reconcile_time_seconds',
    );
    const observed = m?.values.find(
      (v) =>
        'metricName' in v &&
        v.metricName === 'controller_runtime_reconcile_time_seconds_count' &&
        v.labels.controller === 'remediation',
    )?.value;
    expect(observed).toBeGreaterThanOrEqual(4);
    // Logs: a constant message with the key's fields.
    const done = records.find((r) => r.message === 'reconcile done' && r.name === 'one');
    expect(done).toMatchObject({ controller: 'remediation', namespace: ns, name: 'one' });
    expect(typeof done?.reconcileId).toBe('string');
  });

  it('retries a throwing reconciler with growing backoff, and honours requeueAfter', async () => {
    const attempts = new Map<string, number[]>();
    const { manager, metrics, records } = aManager('m1', {
      leaseName: `mgr-${++leaseSeq}`,
      reconcile: (req) => {
        const list = attempts.get(req.name) ?? [];
        list.push(performance.now());
        attempts.set(req.name, list);
        if (req.name === 'flaky' && list.length <= 4) return Promise.reject(new Error('API server said no'));
        if (req.name === 'later' && list.length === 1) return Promise.resolve({ requeueAfterMs: 500 });
        return Promise.resolve();
      },
    });
    await manager.start();
    await rems().create(ns, aRemediation('flaky'));
    await rems().create(ns, aRemediation('later'));
    await eventually(() => (attempts.get('flaky')?.length ?? 0) >= 5, {
      what: 'flaky succeeds on its fifth try',
    });
    await eventually(() => (attempts.get('later')?.length ?? 0) >= 2, { what: 'later comes back' });

    const t = attempts.get('flaky')!;
    const gaps = t.slice(1).map((x, i) => x - t[i]!);
    // 100, 200, 400, 800 ms: timers never fire early (1 ms rounding aside).
    [100, 200, 400, 800].forEach((d, i) => expect(gaps[i]).toBeGreaterThanOrEqual(d - 2));
    const later = attempts.get('later')!;
    expect(later[1]! - later[0]!).toBeGreaterThanOrEqual(498);

    const errors = (await metrics.registry.getMetricsAsJSON()).find(
      (x) => x.name === 'controller_runtime_reconcile_errors_total',
    );
    expect(errors?.values.find((v) => v.labels.controller === 'remediation')?.value).toBe(4);
    const failed = records.filter((r) => r.message === 'reconcile failed' && r.name === 'flaky');
    expect(failed.map((r) => r.retryInMs)).toEqual([100, 200, 400, 800]);
    expect(failed[0]).toMatchObject({
      error: 'API server said no',
      controller: 'remediation',
      namespace: ns,
    });
  });

  it('runs workers only on the leader; a graceful stop aborts the pass, waits for it, and hands over at once', async () => {
    const leaseName = `mgr-${++leaseSeq}`;
    const byWhom: string[] = [];
    let inFlightAborted = false;
    const reconcileAs =
      (who: string): ReconcileFn =>
      async (req, ctx) => {
        byWhom.push(`${who} ${req.name}`);
        if (req.name === 'slow' && who === 'a') {
          // Holds until the shutdown aborts the pass, then "checkpoints" briefly.
          await new Promise<void>((resolve) =>
            ctx.signal.addEventListener('abort', () => resolve(), { once: true }),
          );
          inFlightAborted = true;
          await new Promise((r) => setTimeout(r, 200));
        }
      };
    // Longer lease: a takeover within it can only come from release().
    const slowLease = {
      'leaderElection.leaseDuration': '15s',
      'leaderElection.renewDeadline': '10s',
    };
    const a = aManager('a', { leaseName, reconcile: reconcileAs('a'), overrides: slowLease });
    await a.manager.start();
    await eventually(() => a.manager.isLeader(), { what: 'a leads' });
    const b = aManager('b', { leaseName, reconcile: reconcileAs('b'), overrides: slowLease });
    await b.manager.start();

    await rems().create(ns, aRemediation('slow'));
    await eventually(() => byWhom.includes('a slow'), { what: 'a reconciles slow' });
    // The standby syncs and is ready, but does not reconcile.
    expect(await probe(b.manager, '/readyz')).toBe(200);
    expect(b.manager.isLeader()).toBe(false);
    expect(byWhom.filter((x) => x.startsWith('b '))).toEqual([]);

    const signals = new EventEmitter();
    const exits: number[] = [];
    installSignalHandlers(a.manager, {
      target: signals as unknown as NodeJS.Process,
      exit: (c) => exits.push(c),
    });
    signals.emit('SIGTERM', 'SIGTERM');
    // Readiness drops first, while the pass is still finishing.
    expect(a.manager.readiness()).toEqual({ ok: false, reason: 'shutting down' });
    const exit = await a.manager.finished();
    const stoppedAt = Date.now();
    expect(exit).toEqual({ reason: 'signal', exitCode: 0, drained: true });
    expect(inFlightAborted).toBe(true);
    expect(exits).toEqual([0]);
    const lease = await testClients().coordination.readNamespacedLease({ name: leaseName, namespace: ns });
    expect(lease.spec?.holderIdentity ?? '').not.toBe('a');

    await eventually(() => b.manager.isLeader(), { what: 'b takes over', timeoutMs: 10_000, intervalMs: 50 });
    // At once: well before the 15 s lease could have run out.
    expect(Date.now() - stoppedAt).toBeLessThan(10_000);
    await rems().create(ns, aRemediation('after-handover'));
    await eventually(() => byWhom.includes('b after-handover'), { what: 'b reconciles new keys' });
    // b also looks at everything that exists when it starts leading: level-based.
    expect(byWhom).toContain('b slow');
  });
});
