/**
 * The workloads that plan() reads, served from informers instead of a GET per step, as
 * controller-runtime's client reads through its cache. It takes one of the three API calls
 * off a step's path (GET target, checkpoint, change).
 *
 * - Lazy, per kind: the informer of Deployments (StatefulSets, DaemonSets) starts the first time
 *   a step plans on one, in `watchNamespace` or all namespaces; until it has synced, and for
 *   every other kind or namespace, `peek()` answers undefined and the action GETs as before.
 *   An operator that never restarts a DaemonSet never caches one.
 * - Only plan() reads it. The cache may be a moment behind, so what it gives is a guess that
 *   the change itself confirms: apply() sends it only onto the spec it saw (a `test` of the
 *   generation, or the resourceVersion), and otherwise reads the object and decides again
 *   (actions/kubernetes/reads.ts `readObject`, `isCachedRead`). A refusal planned from the cache (a paused
 *   Deployment) is confirmed by a GET before it fails the step. A resumed step (after a crash or
 *   a retry) always reads the API server.
 * - The objects are slimmed (no managedFields, no last-applied annotation) and never mutated:
 *   readObject hands out a copy.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { RawObjectApi, type KubeObject, type ObjectRef } from '../kube/raw-object.js';
import type { Logger } from '../observability/logger.js';
import { LIST_PAGE_SIZE, ResourceInformer, type InformerFactory } from './informer.js';

/** The kinds served from the cache (apps/v1): the workloads rolloutRestart, scale and setEnv plan on. */
export const CACHED_KINDS: Readonly<Record<string, string>> = {
  Deployment: 'deployments',
  StatefulSet: 'statefulsets',
  DaemonSet: 'daemonsets',
};
const API_VERSION = 'apps/v1';
const API_PATH = '/apis/apps/v1';

export interface TargetCacheOptions {
  kc: KubeConfig;
  /** Empty: all namespaces. */
  namespace: string;
  factory: InformerFactory;
  logger: Logger;
}

type ListPage = { items?: KubeObject[]; metadata?: { resourceVersion?: string; continue?: string } };

/** Structurally the TargetReader the actions read through (actions/types.ts). */
export class TargetCache {
  private readonly informers = new Map<string, ResourceInformer<KubeObject>>();
  private stopped = false;

  constructor(private readonly o: TargetCacheOptions) {}

  peek(ref: ObjectRef): KubeObject | undefined {
    if (this.stopped || ref.apiVersion !== API_VERSION) return undefined;
    if (this.o.namespace && ref.namespace !== this.o.namespace) return undefined;
    const plural = CACHED_KINDS[ref.kind];
    if (!plural) return undefined;
    const inf = this.informers.get(plural) ?? this.start(plural);
    // A failing watch (RBAC changed, API server trouble) may leave the cache behind for long.
    return inf.hasSynced() && !inf.failing() ? inf.get(ref.namespace, ref.name) : undefined;
  }

  /** The kinds whose informer runs, and whether it has synced (for logs and tests). */
  kinds(): Record<string, boolean> {
    return Object.fromEntries([...this.informers].map(([k, i]) => [k, i.hasSynced()]));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all([...this.informers.values()].map((i) => i.stop()));
  }

  private start(plural: string): ResourceInformer<KubeObject> {
    const inf = new ResourceInformer<KubeObject>({
      plural,
      apiPath: API_PATH,
      namespace: this.o.namespace,
      list: this.lister(plural),
      factory: this.o.factory,
      logger: this.o.logger,
    });
    this.informers.set(plural, inf);
    this.o.logger.info('target cache started', { resource: plural, watchNamespace: this.o.namespace || '*' });
    inf.start();
    return inf;
  }

  /** Lists in pages of LIST_PAGE_SIZE, one consistent snapshot (as the custom resource lister). */
  private lister(
    plural: string,
  ): () => Promise<{ items: KubeObject[]; metadata?: { resourceVersion?: string } }> {
    const ns = this.o.namespace;
    const kind = Object.keys(CACHED_KINDS).find((k) => CACHED_KINDS[k] === plural) ?? '';
    const path = ns ? `${API_PATH}/namespaces/${ns}/${plural}` : `${API_PATH}/${plural}`;
    return async () => {
      const api = RawObjectApi.forConfig(this.o.kc);
      const items: KubeObject[] = [];
      let resourceVersion: string | undefined;
      let cont: string | undefined;
      do {
        const page = (await api.getPath(path, {
          limit: String(LIST_PAGE_SIZE),
          continue: cont,
        })) as ListPage;
        // List items carry no kind; the actions look at it (a paused Deployment).
        for (const item of page.items ?? []) items.push({ ...item, apiVersion: API_VERSION, kind });
        resourceVersion ??= page.metadata?.resourceVersion;
        cont = page.metadata?.continue || undefined;
      } while (cont);
      return { items, metadata: { resourceVersion } };
    };
  }
}
