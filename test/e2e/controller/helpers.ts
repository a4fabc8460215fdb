/**
 * Drives the reconcilers directly against the real API server, with caches built from LIST
 * (independent of the runtime's informer): refresh, reconcile, repeat until a predicate holds.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { randomUUID } from 'node:crypto';
import { API_VERSION } from '../../../src/api/v1alpha1/constants.js';
import type { Remediation, RemediationSpec, Runbook, RunbookSpec } from '../../../src/api/v1alpha1/schema.js';
import { ACTIONS_REGISTRY } from '../../../src/actions/index.js';
import type { ResolvedTarget, TargetReader } from '../../../src/actions/types.js';
import type { AuditRow, AuditSink } from '../../../src/audit/types.js';
import {
  RemediationReconciler,
  type ActionRegistry,
} from '../../../src/controller/remediation/reconciler.js';
import { RunbookReconciler } from '../../../src/controller/runbook/reconciler.js';
import type { Cache, Request } from '../../../src/runtime/types.js';
import type { Caches } from '../../../src/controller/caches.js';
import type { KubeClients } from '../../../src/kube/client.js';
import { remediations, runbooks } from '../../../src/kube/resources.js';
import { MemoryEventRecorder } from '../../../src/observability/events.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { createMetrics, type Metrics } from '../../../src/observability/metrics.js';
import { systemClock } from '../../../src/util/clock.js';
import { testClients } from '../../support/kube.js';

class ListCache<T extends Remediation | Runbook> implements Cache<T> {
  items: T[] = [];
  get(namespace: string, name: string): T | undefined {
    return this.items.find((o) => o.metadata.namespace === namespace && o.metadata.name === name);
  }
  list(namespace?: string): readonly T[] {
    return namespace ? this.items.filter((o) => o.metadata.namespace === namespace) : this.items;
  }
}

export class ListCaches implements Caches {
  readonly remediations = new ListCache<Remediation>();
  readonly runbooks = new ListCache<Runbook>();
  targets?: TargetReader;
  /** Told of every listed Remediation, as the runtime tells a reconciler of informer events. */
  readonly observers: ((rem: Remediation) => void)[] = [];
  constructor(private readonly clients: KubeClients) {}
  async refresh(): Promise<void> {
    this.remediations.items = (await remediations(this.clients).list()).items;
    this.runbooks.items = (await runbooks(this.clients).list()).items;
    for (const rem of this.remediations.items) for (const o of this.observers) o(rem);
  }
}

export class MemoryAudit implements AuditSink {
  readonly rows: AuditRow[] = [];
  record(row: AuditRow): void {
    this.rows.push(row);
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

export interface Harness {
  clients: KubeClients;
  caches: ListCaches;
  events: MemoryEventRecorder;
  audit: MemoryAudit;
  metrics: Metrics;
  reconciler: RemediationReconciler;
  runbookReconciler: RunbookReconciler;
}

export function harness(
  opts: { clients?: KubeClients; actions?: ActionRegistry; budget?: number; targets?: TargetReader } = {},
): Harness {
  const clients = opts.clients ?? testClients();
  const caches = new ListCaches(testClients());
  if (opts.targets) caches.targets = opts.targets;
  const events = new MemoryEventRecorder();
  const audit = new MemoryAudit();
  const metrics = createMetrics({ defaultMetrics: false });
  const log = silentLogger();
  const reconciler = new RemediationReconciler({
    clients,
    caches,
    clock: systemClock,
    log,
    metrics,
    events,
    audit,
    actions: opts.actions ?? ACTIONS_REGISTRY,
    config: { controller: { maxConcurrentRemediations: opts.budget ?? 20, defaultStepTimeout: '1m' } },
  });
  caches.observers.push(reconciler.observe.update);
  const runbookReconciler = new RunbookReconciler({ clients, caches, clock: systemClock, log, events });
  return { clients, caches, events, audit, metrics, reconciler, runbookReconciler };
}

const ctx = () => ({ reconcileId: randomUUID(), signal: new AbortController().signal });

/** One pass of the Remediation reconciler on fresh caches. */
export async function reconcileOnce(h: Harness, req: Request): Promise<number | undefined> {
  await h.caches.refresh();
  const r = await h.reconciler.reconcile(req, ctx());
  return r.requeueAfterMs;
}

export async function reconcileRunbook(h: Harness, req: Request): Promise<void> {
  for (let i = 0; i < 5; i++) {
    await h.caches.refresh();
    const r = await h.runbookReconciler.reconcile(req, ctx());
    if (!r.requeueAfterMs) return;
  }
}

/**
 * Reconciles until `until` holds on the re-read Remediation (default: a phase that is final),
 * honouring requeueAfter (capped, so waits on rollouts poll quickly).
 */
export async function reconcileUntilStable(
  h: Harness,
  req: Request,
  until: (r: Remediation) => boolean = (r) =>
    ['Succeeded', 'Failed', 'Blocked', 'Skipped', 'DryRun', 'Reverted', 'AwaitingApproval'].includes(
      r.status?.phase ?? '',
    ),
  timeoutMs = 60_000,
): Promise<Remediation> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const after = await reconcileOnce(h, req);
    const rem = await remediations(testClients()).get(req.namespace, req.name);
    if (until(rem)) return rem;
    if (Date.now() > deadline)
      throw new Error(`not stable after ${timeoutMs} ms: ${JSON.stringify(rem.status, null, 1)}`);
    await sleep(Math.min(after ?? 200, 500));
  }
}

export async function createRunbook(ns: string, name: string, spec: RunbookSpec): Promise<Runbook> {
  return runbooks(testClients()).create(ns, {
    apiVersion: API_VERSION,
    kind: 'Runbook',
    metadata: { name, namespace: ns },
    spec,
  });
}

export async function createRemediation(
  ns: string,
  name: string,
  spec: RemediationSpec,
  annotations?: Record<string, string>,
): Promise<Remediation> {
  return remediations(testClients()).create(ns, {
    apiVersion: API_VERSION,
    kind: 'Remediation',
    metadata: { name, namespace: ns, ...(annotations ? { annotations } : {}) },
    spec,
  });
}

export async function annotate(
  ns: string,
  name: string,
  annotations: Record<string, string | null>,
): Promise<void> {
  await remediations(testClients()).patch(ns, name, { metadata: { annotations } });
}

/** ReplicaSets owned by a Deployment: one more per template change (a restart, an env change). */
export async function replicaSetCount(ns: string, deployment: string): Promise<number> {
  const c = testClients();
  const d = await c.apps.readNamespacedDeployment({ name: deployment, namespace: ns });
  const rs = await c.apps.listNamespacedReplicaSet({ namespace: ns });
  return rs.items.filter((r) => r.metadata?.ownerReferences?.some((o) => o.uid === d.metadata?.uid)).length;
}

/**
 * A test double of the target cache (named so: the real one is tested in
 * test/e2e/actions/target-cache.test.ts): it serves nothing, so every read is a GET, and it
 * records what plan() asked it for.
 */
export class RecordingTargetReader implements TargetReader {
  readonly asked: string[] = [];
  peek(ref: ResolvedTarget): undefined {
    this.asked.push(`${ref.kind}/${ref.namespace}/${ref.name}`);
    return undefined;
  }
}
