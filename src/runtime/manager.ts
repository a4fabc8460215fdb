/**
 * The Manager, as controller-runtime's: it owns the informers (one per kind it is given), one
 * work queue and its workers per controller, leader election, the probe server and the
 * order of a graceful shutdown.
 *
 * Informers run on every replica, so a standby has a warm cache and is ready; only the
 * leader runs workers. A replica that loses leadership stops and exits non-zero, as
 * controller-runtime does: its in-memory state may be stale, and a fresh process re-reads.
 *
 * Shutdown order, each step for a reason:
 * 1. readiness false, so the Service stops routing to us before anything closes;
 * 2. abort the passes' signal, so a reconciler finishes or checkpoints its step;
 * 3. wait (bounded) for reconciles in flight;
 * 4. stop the informers;
 * 5. release the Lease so a standby takes over at once, but only if nothing is still in
 *    flight: a pass that outlived the bound may still act, and then the Lease must run out.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { Config } from '../config/config.js';
import type { KubeClients } from '../kube/client.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { buildProbeServer, listenProbeServer, type ProbeCheck } from '../server/probes.js';
import { parseDuration } from '../util/duration.js';
import { RemediatorError, errorMessage } from '../util/errors.js';
import {
  apiPathOf,
  clientNodeFactory,
  customObjectLister,
  ResourceInformer,
  type CachedObject,
  type EventHandlers,
  type InformerFactory,
  type ResourceKind,
} from './informer.js';
import { HeapCompactor, type GcFunction } from './heap-compactor.js';
import { LeaderElector, leaderTimings, leaseNamespace } from './leader-election.js';
import { TargetCache } from './target-cache.js';
import { keyOf, type Cache, type Reconciler, type Request, type WatchEvent } from './types.js';
import { WorkQueue } from './work-queue.js';

/** controller-runtime's CacheSyncTimeout default. */
export const CACHE_SYNC_TIMEOUT_MS = 2 * 60_000;
/**
 * How long stop() waits for reconciles in flight. Below Kubernetes' default 30 s
 * terminationGracePeriodSeconds, so the Lease is still released before SIGKILL.
 */
export const GRACEFUL_SHUTDOWN_TIMEOUT_MS = 20_000;

/**
 * The kinds a Manager watches: kind name → object type (the operator's is controller/caches.ts
 * `Kinds`). The runtime itself names none.
 */
export type KindMap = { [name: string]: CachedObject };

/**
 * Another kind's events mapped to this controller's keys (controller-runtime's Watches). With
 * `delayMs` the keys are queued that much later, and a burst of events within it makes one
 * pass (WorkQueue.addAfter). `map` is told the event, as a delete carries the last state seen.
 */
export type WatchSource<K extends KindMap> = {
  [N in keyof K & string]: {
    object: N;
    map: (obj: K[N], event: WatchEvent) => Request[];
    delayMs?: number;
  };
}[keyof K & string];

export interface ControllerOptions<K extends KindMap> {
  /** The `controller` label and log field; also the work queue's name. */
  name: string;
  reconciler: Reconciler;
  /** The kind whose keys this controller reconciles. */
  forObject: keyof K & string;
  watches?: WatchSource<K>[];
  /**
   * Sees every informer event of `forObject` right after the cache took it and before its key
   * is queued: a reconciler that reads the cache uses it to tell when the cache has caught up
   * with its own writes.
   */
  observe?: EventHandlers<K[keyof K]>;
  /**
   * Whether an event of `forObject` queues its key (controller-runtime's WithEventFilter);
   * called after `observe`. Default: every event does. The Remediation controller leaves out
   * the echo of its own status write, which its pass already went on from.
   */
  eventFilter?(obj: K[keyof K], event: WatchEvent): boolean;
  /** Parallel workers; each key is still serial. Default config.controller.workers. */
  workers?: number;
}

export interface ManagerOptions<K extends KindMap> {
  /** The kinds to watch, by name: one informer each. */
  kinds: { readonly [N in keyof K]: ResourceKind };
  config: Readonly<Config>;
  clients: Pick<KubeClients, 'kc' | 'custom' | 'coordination'>;
  metrics: Metrics;
  logger: Logger;
  /** Serve /healthz, /readyz and /metrics on config.probes. Default true. */
  serveProbes?: boolean;
  cacheSyncTimeoutMs?: number;
  gracefulShutdownTimeoutMs?: number;
  /** First delay of a failing key's backoff; the cap is config.controller.maxBackoff. */
  baseBackoffMs?: number;
  /** Tests pass their own to inject faults; default client-node's makeInformer. */
  informerFactory?: InformerFactory;
  /** The heap compactor's gc (ADR 9); default globalThis.gc (--expose-gc), undefined turns it off. */
  gc?: GcFunction | undefined;
}

export type StopReason = 'signal' | 'leadershipLost' | 'requested' | 'startFailed';

export interface ManagerExit {
  reason: StopReason;
  /** 1 when leadership was lost or start failed, as controller-runtime exits; else 0. */
  exitCode: number;
  /** False if reconciles were still running when the shutdown bound passed. */
  drained: boolean;
}

interface Controller<K extends KindMap> {
  readonly opts: ControllerOptions<K>;
  readonly queue: WorkQueue;
  readonly workers: Promise<void>[];
}

const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export class Manager<K extends KindMap = KindMap> {
  private readonly o: ManagerOptions<K>;
  private readonly log: Logger;
  private readonly informers: { [N in keyof K]: ResourceInformer<K[N]> };
  private readonly targetCache: TargetCache | undefined;
  private readonly controllers: Controller<K>[] = [];
  private readonly elector: LeaderElector | undefined;
  /** A memory-reducing GC once a burst of work (a list, a restart's reconciles) settles. */
  private readonly compactor: HeapCompactor;
  private readonly shutdownHooks: (() => Promise<void> | void)[] = [];
  /** Aborted on stop: every reconcile pass gets this signal. */
  private readonly passAbort = new AbortController();
  private probeServer: FastifyInstance | undefined;
  private probeUrlValue: string | undefined;
  private started = false;
  private synced = false;
  private stopping = false;
  private workersRunning = false;
  private stopPromise: Promise<ManagerExit> | undefined;
  private resolveExit!: (e: ManagerExit) => void;
  private readonly exit: Promise<ManagerExit>;

  constructor(opts: ManagerOptions<K>) {
    this.o = opts;
    this.log = opts.logger.child({ component: 'manager' });
    this.exit = new Promise((resolve) => (this.resolveExit = resolve));
    const factory = opts.informerFactory ?? clientNodeFactory(opts.clients.kc);
    const ns = opts.config.watchNamespace;
    const informer = <T extends CachedObject>(kind: ResourceKind): ResourceInformer<T> =>
      new ResourceInformer<T>({
        plural: kind.plural,
        apiPath: apiPathOf(kind),
        namespace: ns,
        list: customObjectLister<T>(opts.clients.custom, kind, ns),
        factory,
        logger: opts.logger,
      });
    this.informers = Object.fromEntries(
      Object.entries(opts.kinds).map(([name, kind]) => [name, informer(kind)]),
    ) as { [N in keyof K]: ResourceInformer<K[N]> };
    // Started per kind by the first step that plans on one: only on the leader.
    this.targetCache = opts.config.controller.targetCache
      ? new TargetCache({ kc: opts.clients.kc, namespace: ns, factory, logger: opts.logger })
      : undefined;
    this.compactor = new HeapCompactor({
      logger: this.log,
      // A standby's queues fill but are not worked: only a leader's work counts as busy.
      busy: () => this.workersRunning && this.controllers.some((c) => c.queue.busy()),
      ...('gc' in opts ? { gc: opts.gc } : {}),
    });
    for (const inf of this.allInformers()) {
      inf.addHandlers({
        relisted: () => {
          this.compactor.note(inf.list().length);
          this.compactor.maybeCompact();
        },
      });
    }

    const le = opts.config.leaderElection;
    if (le.enabled) {
      this.elector = new LeaderElector({
        leases: opts.clients.coordination,
        namespace: leaseNamespace(opts.config, opts.clients.kc),
        name: le.leaseName,
        identity: le.identity,
        ...leaderTimings(opts.config),
        logger: opts.logger,
        metrics: opts.metrics,
        callbacks: {
          onStartedLeading: () => this.startWorkers(),
          onStoppedLeading: () => {
            if (this.stopping) return;
            this.log.error('leadership lost, stopping');
            void this.stop('leadershipLost');
          },
        },
      });
    }
  }

  /** A read-only view of one kind's informer cache, for reconcilers. Complete once synced. */
  cache<N extends keyof K>(kind: N): Cache<K[N]> {
    return this.informers[kind];
  }

  /** The workload cache (controller.targetCache), or undefined when it is off. */
  targets(): TargetCache | undefined {
    return this.targetCache;
  }

  private allInformers(): ResourceInformer<K[keyof K]>[] {
    return Object.values(this.informers) as ResourceInformer<K[keyof K]>[];
  }

  /** Registers a controller. Must be called before start(), so its handlers see the initial list. */
  addController(c: ControllerOptions<K>): void {
    if (this.started) throw new Error(`addController(${c.name}) after start(): register controllers first`);
    if (this.controllers.some((x) => x.opts.name === c.name))
      throw new Error(`controller ${c.name} registered twice`);
    const queue = new WorkQueue({
      name: c.name,
      baseDelayMs: this.o.baseBackoffMs,
      maxDelayMs: parseDuration(this.o.config.controller.maxBackoff),
      metrics: this.o.metrics,
    });
    const ctrl: Controller<K> = { opts: c, queue, workers: [] };
    this.controllers.push(ctrl);

    const enqueueOwn = (obj: K[keyof K], event: WatchEvent): void => {
      const { namespace, name } = obj.metadata ?? {};
      if (!name || (c.eventFilter && !c.eventFilter(obj, event))) return;
      queue.add(keyOf({ namespace: namespace ?? '', name }));
    };
    if (c.observe) this.handle(c.forObject, c.observe);
    this.handle(c.forObject, {
      add: (o) => enqueueOwn(o, 'add'),
      update: (o) => enqueueOwn(o, 'update'),
      delete: (o) => enqueueOwn(o, 'delete'),
    });
    for (const w of c.watches ?? []) {
      const enqueueMapped = (obj: K[keyof K], event: WatchEvent): void => {
        try {
          const reqs = (w.map as (o: K[keyof K], e: WatchEvent) => Request[])(obj, event);
          for (const r of reqs) queue.addAfter(keyOf(r), w.delayMs ?? 0);
        } catch (err) {
          this.log.error('watch map failed', {
            controller: c.name,
            object: w.object,
            error: errorMessage(err),
          });
        }
      };
      this.handle(w.object, {
        add: (o) => enqueueMapped(o, 'add'),
        update: (o) => enqueueMapped(o, 'update'),
        delete: (o) => enqueueMapped(o, 'delete'),
      });
    }
  }

  /** Work to finish during stop(), alongside the drain (e.g. closing the webhook server). */
  onShutdown(fn: () => Promise<void> | void): void {
    this.shutdownHooks.push(fn);
  }

  /**
   * Serves the probes, starts the informers and waits for their caches, then campaigns for
   * leadership (or starts the workers at once when leader election is off). Resolves once
   * the caches have synced; leadership may come later. Rejects (after cleaning up) when the
   * caches cannot sync.
   */
  async start(): Promise<void> {
    if (this.started) throw new Error('Manager.start() called twice');
    this.started = true;
    try {
      if (this.o.serveProbes ?? true) {
        this.probeServer = buildProbeServer({
          registry: this.o.metrics.registry,
          health: () => this.health(),
          readiness: () => this.readiness(),
          logger: this.o.logger,
        });
        this.probeUrlValue = await listenProbeServer(this.probeServer, this.o.config.probes);
        this.log.info('probe server listening', { url: this.probeUrlValue });
      }
      for (const inf of this.allInformers()) inf.start();
      const timeout = this.o.cacheSyncTimeoutMs ?? CACHE_SYNC_TIMEOUT_MS;
      await Promise.all(this.allInformers().map((inf) => inf.waitForSync(timeout, this.passAbort.signal)));
      this.synced = true;
      this.log.info(
        'caches synced',
        Object.fromEntries(this.allInformers().map((inf) => [inf.plural, inf.list().length])),
      );
    } catch (err) {
      // A signal during startup aborts the sync wait: that is a stop, not a failure.
      if (this.stopping) return;
      this.log.error('manager start failed', { error: errorMessage(err) });
      await this.stop('startFailed');
      throw err;
    }
    if (this.stopping) return;
    if (this.elector) this.elector.start();
    else {
      // Without election this process acts as the leader; say so, or a "no leader" alert fires.
      this.o.metrics.leaderStatus.set({ name: this.o.config.leaderElection.leaseName }, 1);
      this.startWorkers();
    }
  }

  /** Resolves when the manager has stopped, for whatever reason. */
  finished(): Promise<ManagerExit> {
    return this.exit;
  }

  isLeader(): boolean {
    return this.elector ? this.elector.isLeader() : this.workersRunning;
  }

  /** Base URL of the probe server once started, e.g. `http://127.0.0.1:8080`. */
  probeUrl(): string | undefined {
    return this.probeUrlValue;
  }

  health(): ProbeCheck {
    const wedged = this.allInformers().filter((i) => !i.healthy());
    if (wedged.length > 0)
      return { ok: false, reason: `informer wedged: ${wedged.map((i) => i.plural).join(', ')}` };
    return { ok: true };
  }

  readiness(): ProbeCheck {
    if (this.stopping) return { ok: false, reason: 'shutting down' };
    if (!this.synced) return { ok: false, reason: 'caches not synced' };
    return { ok: true };
  }

  /** Graceful shutdown (see the file comment); idempotent, later calls get the same result. */
  stop(reason: StopReason = 'requested'): Promise<ManagerExit> {
    this.stopPromise ??= this.doStop(reason);
    return this.stopPromise;
  }

  private async doStop(reason: StopReason): Promise<ManagerExit> {
    this.stopping = true;
    const wasLeader = this.elector?.isLeader() ?? false;
    this.log.info('manager stopping', { reason, leader: wasLeader });
    this.passAbort.abort();
    // No collection in the middle of the drain.
    this.compactor.stop();

    const boundMs = this.o.gracefulShutdownTimeoutMs ?? GRACEFUL_SHUTDOWN_TIMEOUT_MS;
    const drain = Promise.all([
      ...this.controllers.map(async (c) => {
        await c.queue.shutDown();
        await Promise.all(c.workers);
      }),
      ...this.shutdownHooks.map(async (h) => {
        try {
          await h();
        } catch (err) {
          this.log.warn('shutdown hook failed', { error: errorMessage(err) });
        }
      }),
    ]).then(() => true);
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), boundMs)));
    const drained = await Promise.race([drain, bound]);
    clearTimeout(timer);
    if (!drained)
      this.log.warn('reconciles still running after the shutdown bound; the Lease is left to expire', {
        boundMs,
      });

    await Promise.all([...this.allInformers().map((i) => i.stop()), this.targetCache?.stop()]);
    if (this.elector) {
      if (drained && reason !== 'leadershipLost') await this.elector.release();
      else await this.elector.stop();
    }
    if (this.probeServer) {
      try {
        await this.probeServer.close();
      } catch (err) {
        this.log.warn('probe server close failed', { error: errorMessage(err) });
      }
    }
    const exit: ManagerExit = {
      reason,
      exitCode: reason === 'leadershipLost' || reason === 'startFailed' ? 1 : 0,
      drained,
    };
    this.log.info('manager stopped', { ...exit });
    this.resolveExit(exit);
    return exit;
  }

  private handle(kind: keyof K, h: EventHandlers<K[keyof K]>): void {
    (this.informers[kind] as ResourceInformer<K[keyof K]>).addHandlers(h);
  }

  private startWorkers(): void {
    if (this.workersRunning || this.stopping) return;
    this.workersRunning = true;
    for (const c of this.controllers) {
      c.queue.startWaitClocks();
      const n = c.opts.workers ?? this.o.config.controller.workers;
      for (let i = 0; i < n; i++) c.workers.push(this.worker(c));
      this.log.info('controller started', { controller: c.opts.name, workers: n });
    }
  }

  private async worker(c: Controller<K>): Promise<void> {
    for (;;) {
      const key = await c.queue.get();
      if (key === undefined) return;
      const labels = { controller: c.opts.name };
      this.o.metrics.activeWorkers.inc(labels);
      try {
        await this.reconcileOne(c, key);
      } finally {
        this.o.metrics.activeWorkers.dec(labels);
        c.queue.done(key);
      }
      this.compactor.note();
      this.compactor.maybeCompact();
      // A pass that needed no I/O (a cache read, nothing to write) settles in microtasks only;
      // thousands of those in a row (a restart with every key queued) would starve timers and
      // sockets, the Lease renewal among them. Let the event loop turn between passes.
      await yieldToEventLoop();
    }
  }

  private async reconcileOne(c: Controller<K>, key: string): Promise<void> {
    const slash = key.indexOf('/');
    const req: Request = { namespace: key.slice(0, slash), name: key.slice(slash + 1) };
    const reconcileId = randomUUID();
    const controller = c.opts.name;
    const fields = { controller, namespace: req.namespace, name: req.name, reconcileId };
    const started = performance.now();
    try {
      const result = await c.opts.reconciler.reconcile(req, { reconcileId, signal: this.passAbort.signal });
      c.queue.forget(key);
      const after = result?.requeueAfterMs;
      if (after !== undefined && after > 0) {
        c.queue.addAfter(key, after);
        this.o.metrics.reconcileTotal.inc({ controller, result: 'requeue_after' });
        this.log.debug('reconcile done', { ...fields, requeueAfterMs: after });
      } else {
        this.o.metrics.reconcileTotal.inc({ controller, result: 'success' });
        this.log.debug('reconcile done', fields);
      }
    } catch (err) {
      this.o.metrics.reconcileTotal.inc({ controller, result: 'error' });
      this.o.metrics.reconcileErrors.inc({ controller });
      if (err instanceof RemediatorError && err.terminal) {
        // Terminal: the reconciler recorded why; retrying cannot help until the object changes.
        c.queue.forget(key);
        this.log.error('reconcile failed terminally', { ...fields, error: err.message, code: err.code });
      } else {
        const retryInMs = c.queue.addRateLimited(key);
        this.log.error('reconcile failed', {
          ...fields,
          error: errorMessage(err),
          code: err instanceof RemediatorError ? err.code : undefined,
          retryInMs,
        });
      }
    } finally {
      this.o.metrics.reconcileTime.observe({ controller }, (performance.now() - started) / 1000);
    }
  }
}

export interface SignalHandlerOptions {
  logger?: Logger;
  /** Default process.exit; tests pass their own. */
  exit?: (code: number) => void;
  signals?: NodeJS.Signals[];
  /** Listens for signals here; default `process`. */
  target?: Pick<NodeJS.Process, 'on' | 'off'>;
}

/**
 * SIGTERM/SIGINT → graceful stop, then exit with the manager's code; a second signal exits
 * at once (as controller-runtime's SetupSignalHandler). Also exits when the manager stops by
 * itself (leadership lost). Returns a function that removes the handlers.
 */
export function installSignalHandlers(
  manager: Pick<Manager, 'stop' | 'finished'>,
  opts: SignalHandlerOptions = {},
): () => void {
  const exit = opts.exit ?? ((code: number) => process.exit(code));
  const target = opts.target ?? process;
  const signals = opts.signals ?? ['SIGTERM', 'SIGINT'];
  let received = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    received++;
    if (received > 1) {
      opts.logger?.warn('second signal, exiting at once', { signal });
      exit(1);
      return;
    }
    opts.logger?.info('signal received, shutting down', { signal });
    void manager.stop('signal');
  };
  for (const s of signals) target.on(s, onSignal);
  void manager.finished().then((e) => exit(e.exitCode));
  return () => {
    for (const s of signals) target.off(s, onSignal);
  };
}
