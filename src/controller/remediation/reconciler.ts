/**
 * The Remediation reconciler: gather → decide → act → record, one side effect at most per
 * pass. The decision is `next()` (protocol.ts, pure); this file only reads the world, runs the
 * one operation `next` asked for, hands its effect back to `next`, writes the status (skipping
 * empty diffs) and, only once the write succeeded, emits the Events, audit rows and metrics
 * that describe it.
 */
import type { Remediation, Runbook, StepStatus } from '../../api/v1alpha1/schema.js';
import { RESOURCES } from '../../api/v1alpha1/constants.js';
import { PassReads, type Action, type ActionContext, type ActionOutcome } from '../../actions/types.js';
import type { AuditSink } from '../../audit/types.js';
import {
  apiErrorMessage,
  isConflict,
  isNotFound,
  isUnavailable,
  type KubeClients,
} from '../../kube/client.js';
import { remediations, runbooks, type CustomResources } from '../../kube/resources.js';
import type { EventRecorder, ObjectRef } from '../../observability/events.js';
import type { Logger } from '../../observability/logger.js';
import type { Metrics } from '../../observability/metrics.js';
import type { Clock } from '../../util/clock.js';
import { parseDuration } from '../../util/duration.js';
import { FAILPOINTS, failpoint } from '../../util/failpoints.js';
import { ERROR_CODES, RemediatorError } from '../../util/errors.js';
import { validateRunbook, validateSteps } from '../../runbook/validate.js';
import type { ReconcileContext, Reconciler, Request, Result } from '../../runtime/types.js';
import type { Caches } from '../caches.js';
import { REASONS } from '../../api/v1alpha1/constants.js';
import {
  CHECKPOINT_REQUEUE_MS,
  type ActionInfo,
  type Decision,
  type Effect,
  type Observed,
  type Operation,
  type PlanResult,
} from './decision.js';
import { needsPeers, next } from './protocol.js';
import { effectiveSafety, stepSpec, stepTarget } from './resolve.js';
import { isDryRun, statusPatch } from './status.js';
import { LocalStarts } from './local-starts.js';
import { OwnWrites } from './own-writes.js';
import { finishResult } from './finish-result.js';
import type { FinishResult } from '../../observability/metrics.js';
import { isFirstEnd, milestones, secondsSinceAlert } from './milestones.js';
import { PhaseGauge } from './phase-gauge.js';

/** A status write that conflicts is retried after re-reading, this many times, then the pass throws. */
export const MAX_CONFLICT_RETRIES = 5;
/**
 * Status writes a pass may chain before its side effect (start, checkpoint), each followed by a
 * fresh decide() on the object the write returned. A bound, not an expected count: decide()
 * asks to go on only after a checkpoint.
 */
export const MAX_WRITES_BEFORE_EFFECT = 3;

/** The action registry: `ACTIONS_REGISTRY` from src/actions, or a test's own. */
export type ActionRegistry = Readonly<Partial<Record<string, Action>>>;

export interface RemediationReconcilerConfig {
  controller: { maxConcurrentRemediations: number; defaultStepTimeout: string };
}

export interface RemediationReconcilerDeps {
  clients: KubeClients;
  caches: Caches;
  clock: Clock;
  log: Logger;
  metrics: Metrics;
  events: EventRecorder;
  audit: AuditSink;
  actions: ActionRegistry;
  config: RemediationReconcilerConfig;
}

interface Gathered {
  obs: Observed;
  rem: Remediation;
}

/** What one operation did: the result to return, and the object our status write returned. */
interface Acted {
  result: Result;
  /** Set when a status write succeeded: the newest state of the Remediation. */
  written?: Remediation;
  /** Whether an action ran (apply or revert): the pass's one side effect is spent. */
  effect: boolean;
  /** decide() asked to look again at once: the write was a checkpoint, not a resting state. */
  checkpoint: boolean;
}

const remKey = (rem: Remediation): string => `${rem.metadata.namespace ?? ''}/${rem.metadata.name ?? ''}`;

export class RemediationReconciler implements Reconciler {
  private readonly rems: CustomResources<Remediation, Remediation['status'] & object>;
  private readonly rbs: CustomResources<Runbook, Runbook['status'] & object>;
  private readonly defaultStepTimeoutMs: number;
  private readonly gauge: PhaseGauge;
  /** What this process started and the cache may not show yet (budgets and the lock). */
  private readonly local = new LocalStarts();
  /** Our status writes the cache has not shown yet (read-your-writes). */
  private readonly own = new OwnWrites();

  constructor(private readonly d: RemediationReconcilerDeps) {
    this.rems = remediations(d.clients);
    this.rbs = runbooks(d.clients);
    this.defaultStepTimeoutMs = parseDuration(d.config.controller.defaultStepTimeout);
    this.gauge = new PhaseGauge(d.metrics.remediations);
  }

  /** Informer events of Remediations, before their key is queued (see OwnWrites). */
  readonly observe = {
    add: (rem: Remediation): void => this.own.observed(rem),
    update: (rem: Remediation): void => this.own.observed(rem),
    delete: (rem: Remediation): void =>
      this.own.forget(rem.metadata.namespace ?? '', rem.metadata.name ?? ''),
    relisted: (): void => this.own.relisted(),
  };

  async reconcile(req: Request, ctx: ReconcileContext): Promise<Result> {
    for (let attempt = 0; ; attempt++) {
      try {
        // After a conflict the cache (and our own last write) is known to be stale: ask the API server.
        return await this.pass(req, ctx, attempt > 0);
      } catch (err) {
        // A conflict before any side effect: the whole pass is safe to run again on fresh state.
        if (isConflict(err) && attempt < MAX_CONFLICT_RETRIES) {
          this.d.log.debug('status conflict, re-reading', {
            remediation: `${req.namespace}/${req.name}`,
            reconcileId: ctx.reconcileId,
            attempt,
          });
          continue;
        }
        throw err;
      }
    }
  }

  // -------------------------------------------------------------------------------------
  // gather

  /**
   * The Remediation from the informer cache, or our own newer write the cache has not shown
   * yet (OwnWrites), or, when `fresh` or neither is there, from the API server.
   */
  private async gather(req: Request, fresh: boolean): Promise<Gathered | undefined> {
    let rem: Remediation | undefined;
    const cached = this.d.caches.remediations.get(req.namespace, req.name);
    if (!fresh) {
      const own = this.own.read(req.namespace, req.name, cached);
      if (own.kind === 'own') rem = own.obj;
      else if (own.kind === 'none') rem = cached;
    }
    if (!rem) {
      try {
        rem = await this.rems.get(req.namespace, req.name);
        // The cache is behind (an expired wait, a conflict): trust it again once it shows this.
        this.own.fetched(rem, cached);
      } catch (err) {
        if (isNotFound(err)) {
          this.gauge.forget(`${req.namespace}/${req.name}`);
          this.local.forget(req.namespace, req.name);
          this.own.forget(req.namespace, req.name);
          return undefined;
        }
        throw err;
      }
    }
    if (rem.metadata.deletionTimestamp) {
      this.local.forget(req.namespace, req.name);
      return undefined;
    }
    return this.observeWorld(req, rem);
  }

  /**
   * Everything the decision needs besides the Remediation and its peers: its Runbook, the
   * validation of its steps, config, now. The peers are added in `decideNow`, synchronously.
   */
  private async observeWorld(req: Request, rem: Remediation): Promise<Gathered> {
    let runbook: Runbook | undefined;
    let runbookMissing = false;
    const ref = rem.spec.runbookRef?.name;
    if (ref) {
      // The Runbook from the informer cache: its changes wake the Remediations that wait on it
      // (mapping.ts), and a GET per pass was a third of the operator's requests. A cache miss
      // (a Runbook created a moment ago) still asks the API server before calling it missing.
      runbook = this.d.caches.runbooks.get(req.namespace, ref);
      if (!runbook) {
        try {
          runbook = await this.rbs.get(req.namespace, ref);
        } catch (err) {
          if (!isNotFound(err)) throw err;
          runbookMissing = true;
        }
      }
    }
    // Validation is only needed before the steps are copied; after that the copy rules.
    const started = (rem.status?.steps?.length ?? 0) > 0;
    let runbookProblems: string[] = [];
    if (!started) {
      if (runbook)
        runbookProblems = validateRunbook(
          runbook.spec,
          runbook.metadata.namespace ?? req.namespace,
          this.lookup,
        );
      else if (!ref && rem.spec.steps) {
        runbookProblems = validateSteps(
          rem.spec.steps,
          req.namespace,
          { params: Object.keys(rem.spec.params ?? {}), target: rem.spec.target },
          this.lookup,
        );
      }
    }
    const obs: Observed = {
      remediation: rem,
      ...(runbook ? { runbook } : {}),
      runbookMissing,
      runbookProblems,
      actionInfo: (name) => this.actionInfo(name),
      config: {
        maxConcurrentRemediations: this.d.config.controller.maxConcurrentRemediations,
        defaultStepTimeoutMs: this.defaultStepTimeoutMs,
      },
      now: this.d.clock.now(),
    };
    return { obs, rem };
  }

  /**
   * The peers, when the pass may look at them (needsPeers: listing a large cache on every pass
   * made a restart with 10,000 finished Remediations quadratic): the cache with this process's
   * own starts laid over it. Called in the same tick as the decision and LocalStarts.note().
   */
  private withPeers(obs: Observed): Observed {
    if (!needsPeers(obs.remediation, obs.actionInfo)) return obs;
    return { ...obs, peers: this.local.merge(this.d.caches.remediations.list(), obs.now) };
  }

  /**
   * The decision on the peers, and the start (or end) noted at once, in the same tick: no other
   * pass of this process can start on a view that misses it. Returns whether a new entry was
   * made (to undo if the write fails).
   */
  private decideNow(gathered: Observed): { obs: Observed; d: Decision; reserved: boolean } {
    const obs = this.withPeers(gathered);
    const d = next(obs);
    const reserved = this.local.note(obs.remediation, d.status, obs.now);
    return { obs, d, reserved };
  }

  private readonly lookup = (name: string): Action | undefined => this.d.actions[name];

  private actionInfo(name: string): ActionInfo | undefined {
    const a = this.d.actions[name];
    return a
      ? { mutating: a.mutating, reversible: a.reversible && typeof a.revert === 'function' }
      : undefined;
  }

  // -------------------------------------------------------------------------------------
  // one pass

  /**
   * One pass: at most one side effect (an action's apply or revert). The status writes before
   * it are checkpoints (the start, the planned step): after each, `next` runs again on the
   * object the write returned, so a step is planned, checkpointed and applied in one pass
   * instead of three passes with a requeue and a re-read between them.
   */
  private async pass(req: Request, ctx: ReconcileContext, fresh: boolean): Promise<Result> {
    let g = await this.gather(req, fresh);
    // What plan() read, for apply() in this same pass (ActionContext.reads).
    const reads = new PassReads();
    for (let writes = 0; g; writes++) {
      const { rem } = g;
      const { obs, d, reserved } = this.decideNow(g.obs);
      let acted: Acted;
      try {
        acted = await this.act(req, ctx, rem, obs, d, reads);
      } catch (err) {
        // Nothing was written: the start did not happen, so it must not hold a slot.
        if (reserved) this.local.forget(rem.metadata.namespace ?? '', rem.metadata.name ?? '');
        throw err;
      }
      const goOn =
        !acted.effect &&
        acted.checkpoint &&
        acted.written !== undefined &&
        writes + 1 < MAX_WRITES_BEFORE_EFFECT &&
        !ctx.signal.aborted;
      if (!goOn || !acted.written) return acted.result;
      g = await this.observeWorld(req, acted.written);
    }
    return {};
  }

  private async act(
    req: Request,
    ctx: ReconcileContext,
    rem: Remediation,
    obs: Observed,
    d: Decision,
    reads: PassReads,
  ): Promise<Acted> {
    const op = d.op;
    const log = this.d.log.child({ remediation: remKey(rem), reconcileId: ctx.reconcileId });

    if (op.kind === 'none') return this.commit(rem, d, log);
    if (ctx.signal.aborted) {
      // Shutting down: write what was decided, start nothing new.
      const acted = await this.commit(rem, { ...d, op: { kind: 'none' } }, log);
      return { ...acted, result: {}, checkpoint: false };
    }
    const rec = d.status.steps?.[op.index];
    const action = rec ? this.d.actions[rec.action] : undefined;
    if (!rec || !action) {
      throw new RemediatorError(
        ERROR_CODES.invalidSpec,
        `step ${op.index} has no known action (${rec?.action ?? 'none'})`,
        { terminal: true },
      );
    }
    const slog = log.child({ step: rec.name, action: rec.action });

    const actx = this.context(obs, d, op.index, op.attempt, slog, reads);
    if (op.kind === 'plan') {
      const result = await this.plan(action, actx);
      if ('plan' in result && result.plan.refused)
        this.d.metrics.actionsTotal.inc({ action: rec.action, result: 'refused' });
      // The checkpoint: written before apply() can run. A conflict re-runs the pass (plan reads only).
      const acted = await this.commit(rem, next(obs, { op, result }), slog);
      failpoint(FAILPOINTS.afterCheckpoint);
      return acted;
    }

    const started = performance.now();
    reads.startApply();
    const outcome = await this.run(op, action, actx, rec);
    failpoint(FAILPOINTS.afterApply);
    this.observeAction(rec.action, outcome, isDryRun(rem, d.status), started, op.kind);
    slog.info('step outcome', { outcome: outcome.kind, message: outcome.message, op: op.kind });
    // The outcome, and what follows from it without another operation (the finish), in one write.
    const effect: Effect = { op, outcome, at: this.d.clock.now() };
    const result = await this.commitAfterEffect(req, rem, next(obs, effect), effect, slog);
    return { result, effect: true, checkpoint: false };
  }

  /** plan(): a read. An unreachable API server is retried by the runtime; anything else fails the attempt. */
  private async plan(action: Action, ctx: ActionContext): Promise<PlanResult> {
    try {
      return { plan: await action.plan(ctx) };
    } catch (err) {
      if (isTransient(err)) throw err;
      return {
        error: {
          reason: REASONS.stepFailed,
          message: `plan failed: ${apiErrorMessage(err)}`,
          retryable: true,
        },
      };
    }
  }

  /** apply() / revert(). Unreachable API: throw, the checkpoint stays, the next pass re-applies (idempotent). */
  private async run(
    op: Operation,
    action: Action,
    ctx: ActionContext,
    rec: StepStatus,
  ): Promise<ActionOutcome> {
    try {
      if (op.kind === 'revert') {
        if (!action.revert)
          return {
            kind: 'failed',
            message: `action ${action.name} cannot be reverted`,
            code: ERROR_CODES.actionRefused,
            reason: REASONS.revertFailed,
            retryable: false,
          };
        return await action.revert(ctx, rec);
      }
      return await action.apply(ctx, rec);
    } catch (err) {
      if (isTransient(err)) throw err;
      return {
        kind: 'failed',
        message: apiErrorMessage(err),
        code: ERROR_CODES.actionFailed,
        reason: REASONS.stepFailed,
        retryable: true,
      };
    }
  }

  private context(
    obs: Observed,
    d: Decision,
    index: number,
    attempt: number,
    log: Logger,
    reads: PassReads,
  ): ActionContext {
    const rem = obs.remediation;
    const rec = d.status.steps![index]!;
    const target = stepTarget(rec);
    const bounds = effectiveSafety(rem, obs.runbook)?.bounds;
    const core = this.d.clients.core;
    const dryRun = isDryRun(rem, d.status);
    // A dry run reads its targets live: its one look does not need a cache, and an informer
    // started for a kind that only dry runs touch would hold that kind in memory for good.
    const targets = dryRun ? undefined : this.d.caches.targets;
    return {
      clients: this.d.clients,
      remediation: rem,
      stepIndex: index,
      step: stepSpec(rec),
      ...(target ? { target } : {}),
      ...(bounds ? { bounds } : {}),
      dryRun,
      attempt,
      stamp: `${rem.metadata.uid ?? ''}/${index}/${attempt}`,
      clock: this.d.clock,
      log,
      reads,
      ...(targets ? { targets } : {}),
      async readSecret(name: string, key: string): Promise<string> {
        const secret = await core.readNamespacedSecret({ name, namespace: rem.metadata.namespace ?? '' });
        const v = secret.data?.[key];
        if (v === undefined)
          throw new RemediatorError(ERROR_CODES.notFound, `secret ${name} has no key ${key}`);
        return Buffer.from(v, 'base64').toString('utf8');
      },
    };
  }

  private observeAction(
    action: string,
    outcome: ActionOutcome,
    dryRun: boolean,
    started: number,
    op: Operation['kind'],
  ): void {
    if (outcome.kind === 'inProgress') return;
    const result = outcome.kind === 'failed' ? 'failure' : dryRun ? 'dry_run' : 'success';
    this.d.metrics.actionsTotal.inc({ action, result });
    if (op === 'apply')
      this.d.metrics.actionDuration.observe({ action }, (performance.now() - started) / 1000);
  }

  // -------------------------------------------------------------------------------------
  // record

  /**
   * Writes the status (if it changed) with the read resourceVersion as precondition, then
   * notes the start or end (LocalStarts) and the write (OwnWrites), then emits.
   */
  private async commit(rem: Remediation, d: Decision, log: Logger): Promise<Acted> {
    const patch = statusPatch(rem.status, d.status);
    let written: Remediation | undefined;
    if (patch) {
      const [ns, name] = [rem.metadata.namespace ?? '', rem.metadata.name ?? ''];
      this.own.writing(ns, name);
      try {
        written = await this.rems.patchStatus(ns, name, patch, rem.metadata.resourceVersion);
      } catch (err) {
        this.own.abandoned(ns, name);
        throw err;
      }
      this.own.wrote(written);
      if (patch.phase !== undefined)
        log.info('phase changed', { phase: d.status.phase, from: rem.status?.phase ?? null });
    }
    this.local.note(rem, d.status, this.d.clock.now());
    this.emit(rem, d);
    const result: Result = d.requeueAfterMs !== undefined ? { requeueAfterMs: d.requeueAfterMs } : {};
    return {
      result,
      ...(written ? { written } : {}),
      effect: false,
      checkpoint: d.requeueAfterMs !== undefined && d.requeueAfterMs <= CHECKPOINT_REQUEUE_MS,
    };
  }

  /**
   * After a side effect, a conflict must not redo the effect: re-read and record the same
   * effect on the fresh state, unless the step is no longer the one we ran (`effectLost`).
   */
  private async commitAfterEffect(
    req: Request,
    rem: Remediation,
    first: Decision,
    effect: Effect,
    log: Logger,
  ): Promise<Result> {
    let cur = rem;
    let d = first;
    for (let attempt = 0; ; attempt++) {
      try {
        return (await this.commit(cur, d, log)).result;
      } catch (err) {
        if (!isConflict(err) || attempt >= MAX_CONFLICT_RETRIES) throw err;
      }
      const g = await this.gather(req, true);
      if (!g) return {};
      d = next(this.withPeers(g.obs), effect);
      if (d.effectLost) {
        log.warn('outcome not recorded: the step changed meanwhile', { op: effect.op.kind });
        return {};
      }
      cur = g.rem;
    }
  }

  private emit(rem: Remediation, d: Decision): void {
    const ref: ObjectRef = {
      apiVersion: rem.apiVersion,
      kind: RESOURCES.remediation.kind,
      namespace: rem.metadata.namespace ?? '',
      name: rem.metadata.name ?? '',
      ...(rem.metadata.uid ? { uid: rem.metadata.uid } : {}),
    };
    const runbook = rem.spec.runbookRef?.name;
    const sinceAlert = secondsSinceAlert(rem.spec.alert?.startsAt, this.d.clock.now());
    this.observeStart(rem, d, runbook ?? '', sinceAlert);
    for (const n of d.notes) {
      if (n.kind === 'event') {
        this.d.events.event(n.target ? { ...n.target } : ref, n.type, n.reason, n.message);
      } else {
        const result = finishResult(n);
        if (result) this.observeEnd(runbook ?? '', result, sinceAlert);
        this.d.audit.record({
          at: this.d.clock.now(),
          event: n.event,
          namespace: ref.namespace,
          remediation: ref.name,
          ...(ref.uid ? { uid: ref.uid } : {}),
          ...(runbook ? { runbook } : {}),
          ...(d.status.target ? { target: d.status.target } : {}),
          ...(rem.spec.alert?.name ? { alertname: rem.spec.alert.name } : {}),
          ...(n.step ? { step: n.step } : {}),
          phase: n.phase ?? d.status.phase,
          message: n.message,
          ...(result ? { result } : {}),
          ...(n.details ? { details: n.details } : {}),
        });
      }
    }
    this.gauge.set(remKey(rem), runbook ?? '', d.status.phase ?? 'Pending');
  }

  /** The dashboard's start counter and first-action latency (milestones.ts). */
  private observeStart(rem: Remediation, d: Decision, runbook: string, sinceAlert: number | undefined): void {
    const m = this.d.metrics;
    m.runbookSeen(runbook);
    const reached = milestones(rem.status, d.status);
    if (reached.started) m.remediationsStarted.inc({ runbook });
    if (reached.firstAction && sinceAlert !== undefined)
      m.alertToFirstAction.observe({ runbook }, sinceAlert);
  }

  /** An end (finish-result.ts): counted, and its latency from the alert when it is the first. */
  private observeEnd(runbook: string, result: FinishResult, sinceAlert: number | undefined): void {
    this.d.metrics.remediationsFinished.inc({ runbook, result });
    if (isFirstEnd(result) && sinceAlert !== undefined)
      this.d.metrics.alertToFinish.observe({ runbook }, sinceAlert);
  }
}

/** Errors that say nothing about the step: the API server unreachable or overloaded. */
function isTransient(err: unknown): boolean {
  if (err instanceof RemediatorError)
    return err.code === ERROR_CODES.kubeUnavailable || err.code === ERROR_CODES.conflict;
  return isUnavailable(err);
}
