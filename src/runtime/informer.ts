/**
 * An informer for one of our custom resources, over client-node's `makeInformer`, with what
 * client-go's reflector adds and client-node lacks:
 *
 * - client-node relists on 410 Gone by itself, but on any other error (a 500, a refused
 *   connection, a failed list) it fires `error` and stops for good. We restart it with a
 *   capped, jittered backoff.
 * - Its watch has no client-side timeout, so a connection that dies silently would leave
 *   the cache stale forever. We ask the server to end each watch after WATCH_TIMEOUT_SECONDS
 *   (client-node then re-watches from the last resourceVersion) and restart the informer
 *   when no sign of life came for much longer than that.
 * - `hasSynced()` and `waitForSync()`, so workers start on a complete cache.
 */
import * as k8s from '@kubernetes/client-node';
import type { Logger } from '../observability/logger.js';
import { ERROR_CODES, RemediatorError, errorMessage } from '../util/errors.js';
import type { Cache } from './types.js';
import { realTimers, type Timers } from './work-queue.js';

/** The server ends each watch after this long, which proves the connection is alive. */
export const WATCH_TIMEOUT_SECONDS = 300;
/** No list, event or clean re-watch for this long means the watch is stuck: restart it. */
export const STALL_RESTART_MS = (2 * WATCH_TIMEOUT_SECONDS + 60) * 1000;
/** Still no sign of life after this long (restarts failing too): /healthz reports it. */
export const WEDGED_AFTER_MS = 2 * STALL_RESTART_MS;
const WATCHDOG_INTERVAL_MS = 30_000;
/** As client-go's reflector: start near 1 s, cap at 30 s. */
export const RESTART_BACKOFF_INITIAL_MS = 1000;
export const RESTART_BACKOFF_MAX_MS = 30_000;

export type ListFn<T extends k8s.KubernetesObject> = () => Promise<k8s.KubernetesListObject<T>>;
/** What we use of client-node's informer; tests pass their own. */
export type ClientInformer<T extends k8s.KubernetesObject> = k8s.Informer<T> & k8s.ObjectCache<T>;
export type InformerFactory = <T extends k8s.KubernetesObject>(
  path: string,
  list: ListFn<T>,
) => ClientInformer<T>;

export interface EventHandlers<T> {
  add?(obj: T): void;
  update?(obj: T): void;
  delete?(obj: T): void;
  /** After each (re-)list has filled the cache, its adds and updates already dispatched. */
  relisted?(): void;
}

/** Objects we cache: ours type metadata with the CRD schema, not client-node's V1ObjectMeta. */
export interface CachedObject {
  metadata?: { name?: string; namespace?: string; resourceVersion?: string };
}

export interface ResourceInformerOptions<T extends CachedObject> {
  /** The plural, for paths and logs. */
  plural: string;
  /** The API group's path, e.g. `/apis/apps/v1` (see apiPathOf). */
  apiPath: string;
  /** Empty: all namespaces. */
  namespace: string;
  list: () => Promise<{ items: T[]; metadata?: { resourceVersion?: string } }>;
  factory: InformerFactory;
  logger: Logger;
  timers?: Timers;
  /** Monotonic milliseconds. */
  now?: () => number;
  restartBackoffInitialMs?: number;
  restartBackoffMaxMs?: number;
}

/** A custom resource the runtime watches: the runtime knows no kind of its own. */
export interface ResourceKind {
  group: string;
  version: string;
  plural: string;
}

/** The path of an API group version, e.g. `/apis/apps/v1`. */
export function apiPathOf(r: Pick<ResourceKind, 'group' | 'version'>): string {
  return `/apis/${r.group}/${r.version}`;
}

/** The watch path of a resource, namespaced or cluster-wide. */
export function resourcePath(plural: string, namespace: string, apiPath: string): string {
  const base = apiPath;
  const path = namespace ? `${base}/namespaces/${namespace}/${plural}` : `${base}/${plural}`;
  // client-node appends its own query parameters to the path with URLSearchParams.set.
  return `${path}?timeoutSeconds=${WATCH_TIMEOUT_SECONDS}`;
}

/** client-node's own informer, listing through CustomObjectsApi. */
export function clientNodeFactory(kc: k8s.KubeConfig): InformerFactory {
  return (path, list) => k8s.makeInformer(kc, path, list);
}

/** kubectl apply's copy of the whole object as last applied: as large as the object itself. */
const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

/**
 * Drops `metadata.managedFields` and kubectl apply's last-applied annotation from an object
 * the cache holds (the handlers get the cached object itself), as client-go users do with a
 * transform. Nothing here reads them, the operator never writes an object back whole (status
 * and metadata changes are patches), and with 10,000 Remediations they were a large share of
 * the operator's memory.
 */
export function slim<O extends k8s.KubernetesObject>(o: O): O {
  const m = o.metadata;
  if (!m) return o;
  if (m.managedFields) delete m.managedFields;
  if (m.annotations && LAST_APPLIED in m.annotations) delete m.annotations[LAST_APPLIED];
  return o;
}

/** Objects per LIST page, as client-go's reflector asks for. */
export const LIST_PAGE_SIZE = 500;

/**
 * Lists a custom resource through CustomObjectsApi, in one namespace or all, in pages of
 * LIST_PAGE_SIZE (one consistent snapshot: the API server serves every page at the first
 * page's resourceVersion). One response for 10,000 Remediations meant a string and a parse
 * tree of tens of MB at once, which stayed in the heap long after the start.
 */
export function customObjectLister<T extends CachedObject>(
  custom: k8s.CustomObjectsApi,
  resource: ResourceKind,
  namespace: string,
  pageSize = LIST_PAGE_SIZE,
): () => Promise<{ items: T[]; metadata?: { resourceVersion?: string } }> {
  type Page = { items: T[]; metadata?: { resourceVersion?: string; continue?: string } };
  return async () => {
    const items: T[] = [];
    let resourceVersion: string | undefined;
    let cont: string | undefined;
    do {
      const { group, version, plural } = resource;
      const base = { group, version, plural, limit: pageSize, _continue: cont };
      const page = (
        namespace
          ? await custom.listNamespacedCustomObject({ ...base, namespace })
          : await custom.listClusterCustomObject(base)
      ) as Page;
      for (const item of page.items) items.push(slim(item as k8s.KubernetesObject) as T);
      resourceVersion ??= page.metadata?.resourceVersion;
      cont = page.metadata?.continue || undefined;
    } while (cont);
    return { items, metadata: { resourceVersion } };
  };
}

/** An abort is how client-node reports our own stop(); it is not a failure. */
function isAbort(err: unknown): boolean {
  const e = err as { name?: unknown; type?: unknown } | null | undefined;
  return e?.name === 'AbortError' || e?.type === 'aborted';
}

export class ResourceInformer<T extends CachedObject> implements Cache<T> {
  readonly plural: string;
  private readonly inner: ClientInformer<k8s.KubernetesObject>;
  private readonly handlers: EventHandlers<T>[] = [];
  private readonly logger: Logger;
  private readonly timers: Timers;
  private readonly now: () => number;
  private readonly backoffInitialMs: number;
  private readonly backoffMaxMs: number;
  private synced = false;
  private syncWaiters: (() => void)[] = [];
  private started = false;
  private stopped = false;
  /** True while our own start() call runs, to tell its `connect` from a clean re-watch. */
  private starting = false;
  private errorCount = 0;
  private consecutiveFailures = 0;
  private lastProgress = 0;
  private restartTimer: unknown;
  private watchdog: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(opts: ResourceInformerOptions<T>) {
    this.plural = opts.plural;
    this.logger = opts.logger.child({ resource: opts.plural, watchNamespace: opts.namespace || '*' });
    this.timers = opts.timers ?? realTimers;
    this.now = opts.now ?? (() => performance.now());
    this.backoffInitialMs = opts.restartBackoffInitialMs ?? RESTART_BACKOFF_INITIAL_MS;
    this.backoffMaxMs = opts.restartBackoffMaxMs ?? RESTART_BACKOFF_MAX_MS;
    const list: ListFn<k8s.KubernetesObject> = async () => {
      const result = (await opts.list()) as k8s.KubernetesListObject<k8s.KubernetesObject>;
      for (const item of result.items) slim(item);
      this.markProgress();
      // client-node fills its cache synchronously once this promise settles, in a microtask;
      // setImmediate runs after those, so the cache is complete when we call it synced.
      setImmediate(() => {
        this.markSynced();
        this.dispatchRelisted();
      });
      return result;
    };
    this.inner = opts.factory(resourcePath(opts.plural, opts.namespace, opts.apiPath), list);
    this.inner.on('add', (o) => this.dispatch('add', slim(o) as T));
    this.inner.on('update', (o) => this.dispatch('update', slim(o) as T));
    this.inner.on('delete', (o) => this.dispatch('delete', o as T));
    this.inner.on('connect', () => {
      // client-node re-watches by itself after the server ends a watch: the last one worked.
      if (!this.starting) this.markProgress();
    });
    this.inner.on('error', (err) => this.onError(err));
  }

  /** Registers handlers; call before start() to see the initial list as adds. */
  addHandlers(h: EventHandlers<T>): void {
    this.handlers.push(h);
  }

  get(namespace: string, name: string): T | undefined {
    return this.inner.get(name, namespace) as T | undefined;
  }

  list(namespace?: string): readonly T[] {
    return this.inner.list(namespace || undefined) as readonly T[];
  }

  hasSynced(): boolean {
    return this.synced;
  }

  /** The last list or watch failed and a restart is pending: the cache may be falling behind. */
  failing(): boolean {
    return this.consecutiveFailures > 0;
  }

  /** False when the informer has shown no sign of life for WEDGED_AFTER_MS while running. */
  healthy(): boolean {
    if (!this.started || this.stopped) return true;
    return this.now() - this.lastProgress < WEDGED_AFTER_MS;
  }

  /** Starts listing and watching; returns at once. Failures are retried in the background. */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.lastProgress = this.now();
    this.watchdog = setInterval(() => this.checkStall(), WATCHDOG_INTERVAL_MS);
    this.watchdog.unref();
    this.run();
  }

  /** Resolves once the first list is in the cache; rejects after `timeoutMs` or on abort. */
  waitForSync(timeoutMs: number, signal?: AbortSignal): Promise<void> {
    if (this.synced) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const fail = (message: string): void => {
        this.syncWaiters = this.syncWaiters.filter((w) => w !== done);
        reject(new RemediatorError(ERROR_CODES.kubeUnavailable, message));
      };
      const timer = setTimeout(
        () =>
          fail(
            `the ${this.plural} cache did not sync within ${timeoutMs} ms: check the API server and RBAC (list/watch ${this.plural})`,
          ),
        timeoutMs,
      );
      const onAbort = (): void => {
        clearTimeout(timer);
        fail(`stopped while waiting for the ${this.plural} cache to sync`);
      };
      const done = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.syncWaiters.push(done);
    });
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.timers.clearTimeout(this.restartTimer);
    if (this.watchdog) clearInterval(this.watchdog);
    await this.inner.stop();
    // A list in flight during stop() goes on to open a watch once it returns (client-node
    // does not look at its stopped flag there); stopping again closes that watch.
    await this.running;
    await this.inner.stop();
  }

  private run(): void {
    if (this.stopped) return;
    const errorsBefore = this.errorCount;
    this.starting = true;
    this.running = this.inner
      .start()
      .then(
        () => {
          if (this.errorCount === errorsBefore && !this.stopped) {
            // Listed (if it had to) and the watch is open.
            this.markProgress();
            this.consecutiveFailures = 0;
          }
        },
        (err: unknown) => this.onError(err),
      )
      .finally(() => {
        this.starting = false;
      });
  }

  private onError(err: unknown): void {
    if (this.stopped || isAbort(err)) return;
    this.errorCount++;
    this.consecutiveFailures++;
    const exp = Math.min(this.backoffInitialMs * 2 ** (this.consecutiveFailures - 1), this.backoffMaxMs);
    // Jitter, so replicas and both informers do not hammer a recovering API server in step.
    const delayMs = Math.round(exp * (0.8 + Math.random() * 0.4));
    this.logger.warn('informer failed, restarting', {
      error: errorMessage(err),
      statusCode:
        (err as { statusCode?: unknown; code?: unknown } | null)?.statusCode ??
        (err as { code?: unknown } | null)?.code,
      failures: this.consecutiveFailures,
      delayMs,
    });
    this.timers.clearTimeout(this.restartTimer);
    this.restartTimer = this.timers.setTimeout(() => this.run(), delayMs);
  }

  private checkStall(): void {
    if (this.stopped || this.consecutiveFailures > 0) return;
    const quietMs = this.now() - this.lastProgress;
    if (quietMs < STALL_RESTART_MS) return;
    this.logger.warn('informer watch stalled, restarting', { quietMs });
    // start() aborts the current watch itself; the abort's error event is ignored.
    this.lastProgress = this.now();
    this.run();
  }

  private markProgress(): void {
    this.lastProgress = this.now();
  }

  private markSynced(): void {
    if (this.synced || this.stopped) return;
    this.synced = true;
    this.logger.info('informer synced', { objects: this.inner.list().length });
    for (const w of this.syncWaiters.splice(0)) w();
  }

  private dispatchRelisted(): void {
    for (const h of this.handlers) {
      try {
        h.relisted?.();
      } catch (err) {
        this.logger.error('informer handler failed', { event: 'relisted', error: errorMessage(err) });
      }
    }
  }

  private dispatch(kind: 'add' | 'update' | 'delete', obj: T): void {
    this.markProgress();
    for (const h of this.handlers) {
      try {
        h[kind]?.(obj);
      } catch (err) {
        // A throwing handler inside client-node's callback loop would skip the others.
        this.logger.error('informer handler failed', { event: kind, error: errorMessage(err) });
      }
    }
  }
}
