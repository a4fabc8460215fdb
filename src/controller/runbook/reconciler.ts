/**
 * The Runbook reconciler: validates each Runbook into its Ready condition (True/Valid or
 * False/InvalidSpec with every problem), and stamps `kube-remediator.io/clear-block` entries
 * with the time it first saw them, which turns a person's "clear this" into a point in time
 * for loop protection (see controller/remediation/policy.ts).
 */
import {
  ANNOTATIONS,
  CONDITION_TYPES,
  EVENT_REASONS,
  REASONS,
  RESOURCES,
} from '../../api/v1alpha1/constants.js';
import type { Runbook, RunbookStatus } from '../../api/v1alpha1/schema.js';
import { isNotFound, type KubeClients } from '../../kube/client.js';
import { runbooks, type CustomResources } from '../../kube/resources.js';
import type { EventRecorder } from '../../observability/events.js';
import type { Logger } from '../../observability/logger.js';
import type { Metrics } from '../../observability/metrics.js';
import type { Clock } from '../../util/clock.js';
import { conditionChanged, findCondition, setCondition } from '../../api/v1alpha1/conditions.js';
import { isFinal } from '../../api/v1alpha1/lifecycle.js';
import { stampClearBlock } from '../../runbook/clear-block.js';
import { deepEqual } from '../../util/deep-equal.js';
import type { ReconcileContext, Reconciler, Request, Result } from '../../runtime/types.js';
import type { Caches } from '../caches.js';
import { validateRunbook, type ActionLookup } from '../../runbook/validate.js';

/** After stamping the annotation: look again at once (the metadata change also triggers us). */
export const STAMP_REQUEUE_MS = 1;

export interface RunbookReconcilerDeps {
  clients: KubeClients;
  caches: Caches;
  clock: Clock;
  log: Logger;
  events: EventRecorder;
  /** Its series start at 0 when a Runbook is first seen, long before its first remediation ends. */
  metrics?: Pick<Metrics, 'runbookSeen'>;
  /** Replaces the action registry (tests); default src/actions. */
  lookup?: ActionLookup;
}

/** The status fields this controller owns; the intake owns matchedAlerts and lastFiredAt. */
type OwnedStatus = Pick<
  RunbookStatus,
  'conditions' | 'observedGeneration' | 'stepCount' | 'activeRemediations'
>;

export class RunbookReconciler implements Reconciler {
  private readonly rbs: CustomResources<Runbook, RunbookStatus>;

  constructor(private readonly d: RunbookReconcilerDeps) {
    this.rbs = runbooks(d.clients);
  }

  /** The Runbook from the API server; undefined when it is gone. */
  private async read(req: Request): Promise<Runbook | undefined> {
    try {
      return await this.rbs.get(req.namespace, req.name);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async reconcile(req: Request, ctx: ReconcileContext): Promise<Result> {
    // From the informer cache: this controller only writes status fields it owns, as a merge
    // patch computed from what it read, so a stale read costs at most a redundant write or a
    // write left to the pass that the newer object's watch event brings. A GET per pass was one
    // request per Remediation started or finished.
    let rb = this.d.caches.runbooks.get(req.namespace, req.name) ?? (await this.read(req));
    if (!rb || rb.metadata.deletionTimestamp) return {};
    this.d.metrics?.runbookSeen(req.name);
    const log = this.d.log.child({ runbook: `${req.namespace}/${req.name}`, reconcileId: ctx.reconcileId });
    const now = this.d.clock.now();

    // Stamping the clear-block annotation is not idempotent (the stamp is a time): decide it on
    // the object as the API server has it, not on a cached copy that may predate the last stamp.
    if (stampClearBlock(rb.metadata.annotations?.[ANNOTATIONS.clearBlock], now) !== undefined) {
      rb = await this.read(req);
      if (!rb || rb.metadata.deletionTimestamp) return {};
    }
    const stamped = stampClearBlock(rb.metadata.annotations?.[ANNOTATIONS.clearBlock], now);
    if (stamped !== undefined) {
      await this.rbs.patch(req.namespace, req.name, {
        metadata: { annotations: { [ANNOTATIONS.clearBlock]: stamped } },
      });
      log.info('loop protection cleared', { clearBlock: stamped });
      return { requeueAfterMs: STAMP_REQUEUE_MS };
    }

    const problems = validateRunbook(rb.spec, rb.metadata.namespace ?? req.namespace, this.d.lookup);
    const gen = rb.metadata.generation;
    const desired: OwnedStatus = {
      conditions: setCondition(
        rb.status?.conditions,
        problems.length === 0
          ? {
              type: CONDITION_TYPES.ready,
              status: 'True',
              reason: REASONS.valid,
              message: `${rb.spec.steps?.length ?? 0} steps, valid`,
            }
          : {
              type: CONDITION_TYPES.ready,
              status: 'False',
              reason: REASONS.invalid,
              message: problems.join('; '),
            },
        now,
        gen,
      ),
      stepCount: rb.spec.steps?.length ?? 0,
      activeRemediations: this.d.caches.remediations
        .list(req.namespace)
        .filter((r) => r.spec.runbookRef?.name === req.name && !isFinal(r)).length,
      ...(gen !== undefined ? { observedGeneration: gen } : {}),
    };
    const patch: Partial<RunbookStatus> = {};
    for (const k of Object.keys(desired) as (keyof OwnedStatus)[]) {
      if (!deepEqual(desired[k], rb.status?.[k])) (patch as Record<string, unknown>)[k] = desired[k];
    }
    if (Object.keys(patch).length === 0) return {};
    await this.rbs.patchStatus(req.namespace, req.name, patch);

    const before = findCondition(rb.status?.conditions, CONDITION_TYPES.ready);
    const after = findCondition(desired.conditions, CONDITION_TYPES.ready)!;
    if (
      conditionChanged(rb.status?.conditions, desired.conditions, CONDITION_TYPES.ready) ||
      (after.status === 'False' && before?.message !== after.message)
    ) {
      const ref = {
        apiVersion: rb.apiVersion,
        kind: RESOURCES.runbook.kind,
        namespace: req.namespace,
        name: req.name,
        ...(rb.metadata.uid ? { uid: rb.metadata.uid } : {}),
      };
      if (after.status === 'False') {
        this.d.events.event(ref, 'Warning', EVENT_REASONS.runbookInvalid, after.message);
        log.warn('runbook invalid', { problems });
      } else if (before) {
        this.d.events.event(ref, 'Normal', EVENT_REASONS.runbookValid, after.message);
      }
    }
    return {};
  }
}
