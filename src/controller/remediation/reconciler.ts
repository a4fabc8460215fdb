/**
 * The Remediation reconciler: gather → decide → act → record, one side effect at most per
 * pass. The decision is `next()` (protocol.ts, pure); this file only reads the world, runs the
 * one operation `next` asked for, hands its effect back to `next`, writes the status (skipping
 * empty diffs) and, only once the write succeeded, emits the Events, audit rows and metrics
 * that describe it.
 */
import type {
  GitOpsOwnerRecord,
  GitOpsPolicy,
  Remediation,
  Runbook,
  StepStatus,
} from '../../api/v1alpha1/schema.js';
import { RESOURCES } from '../../api/v1alpha1/constants.js';
import { PassReads, type Action, type ActionContext, type ActionOutcome } from '../../actions/types.js';
import { notRevertible } from '../../actions/outcome.js';
import type { AuditSink } from '../../audit/types.js';
import {
  apiErrorMessage,
  isConflict,
  isNotFound,
  isUnavailable,
  statusCode,
  type KubeClients,
} from '../../kube/client.js';
import { ImpersonatingClients } from '../../kube/impersonation.js';
import { denialMessage } from '../../security/forbidden.js';
import { identityOf, SINGLE_TENANT, type IdentitySettings } from '../../security/identity.js';
import { remediations, runbooks, type CustomResources } from '../../kube/resources.js';
import type { EventRecorder, ObjectRef } from '../../observability/events.js';
import type { Logger } from '../../observability/logger.js';
import type { Metrics } from '../../observability/metrics.js';
import type { Clock } from '../../util/clock.js';
import { parseDuration } from '../../util/duration.js';
import { FAILPOINTS, failpoint } from '../../util/failpoints.js';
import { ERROR_CODES, RemediatorError } from '../../util/errors.js';
import { validateRunbook, validateSteps } from '../../runbook/validate.js';
import type { ReconcileContext, Reconciler, Request, Result, WatchEvent } from '../../runtime/types.js';
import type { Caches } from '../caches.js';
import { REASONS } from '../../api/v1alpha1/constants.js';
import {
  actionInfoOf,
  CHECKPOINT_REQUEUE_MS,
  RUNBOOK_GUARD,
  type ActionInfo,
  type CheckRevertOperation,
  type Decision,
  type Effect,
  type EscalateOperation,
  type GuardOperation,
  type Observed,
  type Operation,
  type PlanResult,
} from './decision.js';
import { defaultEvaluator, readGuard, unreadable, type CheckEvaluator } from './guard-read.js';
import { guardToRead } from './guards.js';
import { renderPart } from './runbook-parts.js';
import { needsPeers, next } from './protocol.js';
import { effectiveSafety, isResolveFailure, resolveSteps, stepSpec, stepTarget } from './resolve.js';
import { isDryRun, statusPatch } from './status.js';
import { LocalStarts } from './local-starts.js';
import { OwnWrites } from './own-writes.js';
import { finishResult } from './finish-result.js';
import type { FinishResult } from '../../observability/metrics.js';
import { isFirstEnd, milestones, secondsSinceAlert } from './milestones.js';
import { PhaseGauge } from './phase-gauge.js';
import type { GitOpsConfig, GitOpsObserved } from './decision.js';
import { driftCandidates } from './gitops.js';
import { detectOwner, type DetectOptions } from '../../gitops/detect.js';
import { RawObjectApi } from '../../kube/raw-object.js';
import { deepEqual } from '../../util/deep-equal.js';

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
  /** GitOps detection and policy (gitops.ts); absent: off (a test's own reconciler). */
  gitops?: {
    defaultPolicy: GitOpsPolicy;
    defaultMaxPause: string;
    argocdNamespace: string;
    argocdTrackingLabel: string;
    driftCheckInterval: string;
    driftWatch: string;
  };
  /** Whose rights steps use (src/security/identity.ts); absent: single-tenant, as before. */
  identity?: IdentitySettings;
  /** `approvals.fourEyes`: the creator of a Remediation may not approve it. */
  approvals?: { fourEyes?: boolean };
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
  /** How a guard's checks are read; evaluateCheck unless a test passes its own. */
  checks?: CheckEvaluator;
  /** Clients that impersonate a ServiceAccount (serviceAccount mode); default: made from `clients`. */
  impersonation?: ImpersonatingClients;
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
  private readonly gitops: GitOpsConfig | undefined;
  private readonly detect: DetectOptions;

  private readonly identity: IdentitySettings;
  private readonly impersonation: ImpersonatingClients;

  constructor(private readonly d: RemediationReconcilerDeps) {
    this.identity = {
      ...(d.config.identity ?? SINGLE_TENANT),
      ...(d.config.approvals?.fourEyes ? { fourEyes: true } : {}),
    };
    this.impersonation = d.impersonation ?? new ImpersonatingClients(d.clients);
    this.rems = remediations(d.clients);
    this.rbs = runbooks(d.clients);
    this.defaultStepTimeoutMs = parseDuration(d.config.controller.defaultStepTimeout);
    this.gauge = new PhaseGauge(d.metrics.remediations);
    const g = d.config.gitops;
    this.gitops = g && {
      defaultPolicy: g.defaultPolicy,
      defaultMaxPause: g.defaultMaxPause,
      driftCheckIntervalMs: parseDuration(g.driftCheckInterval),
      driftWatchMs: parseDuration(g.driftWatch),
    };
    this.detect = {
      argoNamespace: g?.argocdNamespace ?? 'argocd',
      argoTrackingLabel: g?.argocdTrackingLabel ?? '',
    };
  }

  /** Informer events of Remediations, before their key is queued (see OwnWrites). */
  readonly observe = {
    add: (rem: Remediation): void => this.own.observed(rem),
    update: (rem: Remediation): void => this.own.observed(rem),
    delete: (rem: Remediation): void =>
      this.own.forget(rem.metadata.namespace ?? '', rem.metadata.name ?? ''),
    relisted: (): void => this.own.relisted(),
  };

  /** Which events queue a pass: all but the echo of our own status write (OwnWrites.isEcho). */
  readonly eventFilter = (rem: Remediation, event: WatchEvent): boolean =>
    event !== 'update' || !this.own.isEcho(rem);

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
    const now = this.d.clock.now();
    const obs: Observed = {
      remediation: rem,
      ...(runbook ? { runbook } : {}),
      runbookMissing,
      runbookProblems,
      actionInfo: (name) => this.actionInfo(name),
      config: {
        maxConcurrentRemediations: this.d.config.controller.maxConcurrentRemediations,
        defaultStepTimeoutMs: this.defaultStepTimeoutMs,
        ...(this.gitops ? { gitops: this.gitops } : {}),
        identity: this.identity,
      },
      now,
    };
    const gitops = await this.gitopsReads(obs, runbookProblems.length === 0);
    return { obs: gitops ? { ...obs, gitops } : obs, rem };
  }

  // -------------------------------------------------------------------------------------
  // GitOps reads (gitops.ts decides on them)

  /**
   * Before the start: who deploys each target the steps change (the target's own labels and
   * annotations). After a run on such targets: what the changed fields hold now (drift).
   */
  private async gitopsReads(obs: Observed, valid: boolean): Promise<GitOpsObserved | undefined> {
    if (!this.gitops) return undefined;
    const rem = obs.remediation;
    const s = rem.status;
    if (!s?.startedAt && !s?.gitops && valid) return { owners: await this.owners(obs) };
    const watched = driftCandidates(s, obs.now, this.gitops);
    if (watched.length === 0) return undefined;
    const current: NonNullable<GitOpsObserved['current']> = [];
    for (const index of watched) {
      const rec = s!.steps![index]!;
      const action = this.d.actions[rec.action];
      if (!action) continue;
      const d: Decision = { op: { kind: 'none' }, status: s!, notes: [] };
      const ctx = this.context(obs, d, index, rec.attempt ?? 1, this.d.log, new PassReads());
      try {
        const plan = await action.plan(ctx);
        current.push({ index, found: plan.before });
      } catch (err) {
        // A read that failed says nothing about drift: look again at the next check.
        this.d.log.debug('drift read failed', {
          remediation: remKey(rem),
          step: rec.name,
          error: apiErrorMessage(err),
        });
      }
    }
    return { current };
  }

  /** The GitOps owners of the targets of the mutating steps, as the steps will be copied. */
  private async owners(obs: Observed): Promise<GitOpsOwnerRecord[]> {
    const r = resolveSteps(obs.remediation, obs.runbook);
    if (isResolveFailure(r)) return [];
    const out: GitOpsOwnerRecord[] = [];
    const seen = new Set<string>();
    // Read as the run will act (ADR 0023): under a ServiceAccount the operator itself may not
    // read the target, and its cache would show what the ServiceAccount may not see.
    const identity = identityOf(this.identity, obs.remediation, obs.runbook);
    const clients = this.impersonation.as(identity);
    const cache = identity.kind === 'operator' ? this.d.caches.targets : undefined;
    for (const rec of r.steps) {
      const t = stepTarget(rec);
      if (!t || !rec.target || seen.has(rec.target) || !this.actionInfo(rec.action)?.mutating) continue;
      seen.add(rec.target);
      let obj = cache?.peek(t);
      if (!obj) {
        try {
          obj = await RawObjectApi.forConfig(clients.kc).get(t);
        } catch (err) {
          // The API server unreachable: the pass is retried. Anything else (missing, not
          // allowed) says nothing about an owner; the step itself reports it when it runs.
          if (isUnavailable(err)) throw err;
          this.d.log.debug('gitops owner read failed', { target: rec.target, error: apiErrorMessage(err) });
          continue;
        }
      }
      const owner = detectOwner(
        {
          ...t,
          ...(obj.metadata?.labels ? { labels: obj.metadata.labels } : {}),
          ...(obj.metadata?.annotations ? { annotations: obj.metadata.annotations } : {}),
        },
        this.detect,
      );
      if (owner) out.push({ target: rec.target, ...owner });
    }
    return out;
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
    return actionInfoOf(this.d.actions[name]);
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
    if (op.kind === 'guard') return this.guard(rem, obs, d, op, log);
    if (op.kind === 'escalate') return this.escalate(req, rem, obs, op, log);
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
    if (op.kind === 'checkRevert') {
      // Reads only: nothing to send → the revert is recorded done; else the checkpoint (ADR 0028).
      const nothingToDo = await this.checkRevert(op, action, actx, rec);
      const acted = await this.commit(rem, next(obs, { op, nothingToDo, at: this.d.clock.now() }), slog);
      if (nothingToDo === undefined) failpoint(FAILPOINTS.afterCheckpoint);
      return acted;
    }

    const started = performance.now();
    reads.startApply();
    const outcome = await this.run(op, action, actx, rec);
    failpoint(FAILPOINTS.afterApply);
    this.observeAction(rec.action, outcome, isDryRun(rem, d.status), started, op.kind);
    slog.info('step outcome', { outcome: outcome.kind, message: outcome.message, op: op.kind });
    // The outcome, and what follows from it without another operation (the finish), in one write;
    // with the next step's plan and checkpoint when that is what comes next (ADR 0026).
    const effect = { op, outcome, at: this.d.clock.now() } as Effect;
    const recorded = next(obs, effect);
    // Shutting down: the outcome alone, nothing new decided (as above).
    const ahead = ctx.signal.aborted ? recorded : await this.checkpointAhead(obs, recorded, log);
    const { result, first } = await this.commitAfterEffect(req, rem, ahead, effect, slog);
    if (first && ahead !== recorded) failpoint(FAILPOINTS.afterCheckpoint);
    return { result, effect: true, checkpoint: false };
  }

  /**
   * The next checkpoint, in the write of this step's outcome (ADR 0026). When the next pass
   * would begin by checkpointing the next step (plan() and its checkpoint, or the next revert's
   * Reverting), it is decided now, on the peers as they are now, and goes into the same status
   * write as the outcome: one write fewer per step. The next side effect still waits for the
   * next pass, so each one still follows its own checkpoint, and a crash before the write only
   * repeats this step's recognised apply, as before. Anything else (a wait, a guard, a retry
   * later, a plan that cannot read) leaves the outcome alone.
   */
  private async checkpointAhead(obs: Observed, recorded: Decision, log: Logger): Promise<Decision> {
    if (recorded.effectLost || recorded.op.kind !== 'none' || !isCheckpoint(recorded)) return recorded;
    const later = this.withPeers({
      ...obs,
      remediation: { ...obs.remediation, status: recorded.status },
      now: this.d.clock.now(),
    });
    const ahead = next(later);
    // A checkpoint that needs no read (the next revert's Reverting): into the same write. A
    // revert that could first check for nothing to send is checkpointed here all the same: the
    // check would cost a read, the checkpoint rides on a write that happens anyway.
    const checkpointOnly =
      ahead.op.kind === 'none' || ahead.op.kind === 'checkRevert'
        ? { ...ahead, op: { kind: 'none' as const } }
        : undefined;
    if (checkpointOnly && isCheckpoint(checkpointOnly) && !deepEqual(checkpointOnly.status, recorded.status))
      return { ...checkpointOnly, notes: [...recorded.notes, ...checkpointOnly.notes] };
    if (ahead.op.kind !== 'plan') return recorded;
    const rec = ahead.status.steps?.[ahead.op.index];
    const action = rec ? this.d.actions[rec.action] : undefined;
    if (!rec || !action) return recorded;
    const slog = log.child({ step: rec.name, action: rec.action });
    const actx = this.context(later, ahead, ahead.op.index, ahead.op.attempt, slog, new PassReads());
    let result: PlanResult;
    try {
      result = await this.plan(action, actx);
    } catch (err) {
      // The API server unreachable: the outcome is written alone and the next pass plans.
      slog.debug('checkpoint ahead: plan failed', { error: apiErrorMessage(err) });
      return recorded;
    }
    if ('plan' in result && result.plan.refused)
      this.d.metrics.actionsTotal.inc({ action: rec.action, result: 'refused' });
    const planned = next(later, { op: ahead.op, result });
    if (planned.effectLost) return recorded;
    return { ...planned, notes: [...recorded.notes, ...planned.notes] };
  }

  /**
   * A guard's reads (guard-read.ts), then its record: like plan(), reads only, so a conflict
   * re-runs the pass and reads again; the record is a checkpoint and the pass goes on.
   */
  private async guard(
    rem: Remediation,
    obs: Observed,
    d: Decision,
    op: GuardOperation,
    log: Logger,
  ): Promise<Acted> {
    const what = guardToRead(obs, d.status, op.index);
    const glog = log.child({
      guard: op.index === RUNBOOK_GUARD ? 'runbook' : (d.status.steps?.[op.index]?.name ?? ''),
    });
    // A guard reads as the run's identity, like its steps (ADR 0023).
    const clients = this.clientsOf(obs, d);
    const evaluation =
      'error' in what
        ? unreadable(what.error, this.d.clock.now())
        : await readGuard(
            what.guard.checks,
            {
              clients,
              readSecret: this.secretReader(rem, clients.core),
              ...(what.target ? { target: what.target } : {}),
              log: glog,
              clock: this.d.clock,
            },
            this.d.checks ?? defaultEvaluator,
            () => this.d.clock.now(),
          );
    glog.info('guard evaluated', { result: evaluation.result });
    return this.commit(rem, next(obs, { op, evaluation }), glog);
  }

  /**
   * An escalation's send, after its checkpoint (escalation.ts): the notify action's apply with a
   * stamp of its own, so a send repeated after a restart carries the same Idempotency-Key.
   */
  private async escalate(
    req: Request,
    rem: Remediation,
    obs: Observed,
    op: EscalateOperation,
    log: Logger,
  ): Promise<Acted> {
    const elog = log.child({ escalation: op.index });
    const outcome = await this.sendEscalation(rem, obs, op.index, elog);
    elog.info('escalation sent', { outcome: outcome.kind, message: outcome.message });
    const effect: Effect = { op, outcome, at: this.d.clock.now() };
    const { result } = await this.commitAfterEffect(req, rem, next(obs, effect), effect, elog);
    return { result, effect: true, checkpoint: false };
  }

  private async sendEscalation(
    rem: Remediation,
    obs: Observed,
    index: number,
    log: Logger,
  ): Promise<ActionOutcome> {
    const fail = (message: string): ActionOutcome => ({
      kind: 'failed',
      message,
      code: ERROR_CODES.actionFailed,
      reason: REASONS.stepFailed,
      retryable: false,
    });
    const e = obs.runbook?.spec.escalation?.[index];
    const notify = this.d.actions.notify;
    if (!e || !notify) return fail(`escalation ${index} is no longer in the runbook`);
    const params = renderPart(rem, obs.runbook, 'notify', e.notify);
    if ('error' in params) return fail(`escalation ${index}: ${params.error}`);
    const step = { name: `escalation-${index}`, action: 'notify' as const, notify: params.value };
    const clients = this.clientsOf(obs, { status: rem.status ?? {} });
    const actx: ActionContext = {
      clients,
      remediation: rem,
      stepIndex: index,
      step,
      dryRun: false,
      attempt: 1,
      stamp: `${rem.metadata.uid ?? ''}/escalation/${index}`,
      clock: this.d.clock,
      log,
      readSecret: this.secretReader(rem, clients.core),
    };
    try {
      return await notify.apply(actx, { name: step.name, action: 'notify', phase: 'Running' });
    } catch (err) {
      return fail(apiErrorMessage(err));
    }
  }

  /** plan(): a read. An unreachable API server is retried by the runtime; anything else fails the attempt. */
  private async plan(action: Action, ctx: ActionContext): Promise<PlanResult> {
    try {
      return { plan: await action.plan(ctx) };
    } catch (err) {
      if (isTransient(err)) throw err;
      const denial = forbiddenByIdentity(err);
      if (denial)
        return { error: { reason: REASONS.forbidden, message: `plan failed: ${denial}`, retryable: false } };
      return {
        error: {
          reason: REASONS.stepFailed,
          message: `plan failed: ${apiErrorMessage(err)}`,
          retryable: true,
        },
      };
    }
  }

  /**
   * checkRevert(): a message when the revert has nothing to send. Any error says nothing: the
   * revert is checkpointed and run as without the check, and reports it.
   */
  private async checkRevert(
    op: CheckRevertOperation,
    action: Action,
    ctx: ActionContext,
    rec: StepStatus,
  ): Promise<string | undefined> {
    try {
      return await action.checkRevert?.(ctx, rec);
    } catch (err) {
      ctx.log.debug('revert check failed; checkpointing the revert', {
        error: apiErrorMessage(err),
        index: op.index,
      });
      return undefined;
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
        if (!action.revert) return notRevertible(action);
        return await action.revert(ctx, rec);
      }
      return await action.apply(ctx, rec);
    } catch (err) {
      if (isTransient(err)) throw err;
      const denial = forbiddenByIdentity(err);
      if (denial)
        return {
          kind: 'failed',
          message: denial,
          code: ERROR_CODES.identityForbidden,
          reason: REASONS.forbidden,
          retryable: false,
        };
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
    // Whose rights: the ServiceAccount fixed at the start (serviceAccount mode), or ours.
    const identity = identityOf(this.identity, { ...rem, status: d.status }, obs.runbook);
    const clients = this.impersonation.as(identity);
    const dryRun = isDryRun(rem, d.status);
    // A dry run reads its targets live: its one look does not need a cache, and an informer
    // started for a kind that only dry runs touch would hold that kind in memory for good.
    // Under a ServiceAccount the cache (read with the operator's rights) is not used: a read
    // through it would show the Runbook what its identity may not see (ADR 0023).
    const targets = dryRun || identity.kind !== 'operator' ? undefined : this.d.caches.targets;
    return {
      clients,
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
      readSecret: this.secretReader(rem, clients.core),
    };
  }

  /** The clients a run's reads and changes go through: its ServiceAccount's, or ours (ADR 0023). */
  private clientsOf(obs: Observed, d: Pick<Decision, 'status'>): KubeClients {
    const rem = obs.remediation;
    return this.impersonation.as(identityOf(this.identity, { ...rem, status: d.status }, obs.runbook));
  }

  /** Reads a Secret key in the Remediation's namespace (urlFrom of steps, guards, escalations). */
  private secretReader(
    rem: Remediation,
    core: KubeClients['core'],
  ): (name: string, key: string) => Promise<string> {
    return async (name: string, key: string): Promise<string> => {
      const secret = await core.readNamespacedSecret({ name, namespace: rem.metadata.namespace ?? '' });
      const v = secret.data?.[key];
      if (v === undefined)
        throw new RemediatorError(ERROR_CODES.notFound, `secret ${name} has no key ${key}`);
      return Buffer.from(v, 'base64').toString('utf8');
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
      checkpoint: isCheckpoint(d),
    };
  }

  /**
   * After a side effect, a conflict must not redo the effect: re-read and record the same
   * effect on the fresh state, unless the step is no longer the one we ran (`effectLost`).
   * After a conflict only the effect is recorded (no plan ahead). `first`: whether `first`
   * itself was written.
   */
  private async commitAfterEffect(
    req: Request,
    rem: Remediation,
    first: Decision,
    effect: Effect,
    log: Logger,
  ): Promise<{ result: Result; first: boolean }> {
    let cur = rem;
    let d = first;
    for (let attempt = 0; ; attempt++) {
      try {
        return { result: (await this.commit(cur, d, log)).result, first: attempt === 0 };
      } catch (err) {
        if (!isConflict(err) || attempt >= MAX_CONFLICT_RETRIES) throw err;
      }
      const g = await this.gather(req, true);
      if (!g) return { result: {}, first: false };
      d = next(this.withPeers(g.obs), effect);
      if (d.effectLost) {
        log.warn('outcome not recorded: the step changed meanwhile', { op: effect.op.kind });
        return { result: {}, first: false };
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
    const drift = (d.status.gitops?.drift?.length ?? 0) - (rem.status?.gitops?.drift?.length ?? 0);
    if (drift > 0) this.d.metrics.gitopsDrift.inc({ runbook: runbook ?? '' }, drift);
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

/** decide() asks to look again at once: what it wrote leads straight to the next operation. */
function isCheckpoint(d: Decision): boolean {
  return d.requeueAfterMs !== undefined && d.requeueAfterMs <= CHECKPOINT_REQUEUE_MS;
}

/** Errors that say nothing about the step: the API server unreachable or overloaded. */
/** A 403 under impersonation, as a message naming the ServiceAccount and the RBAC to grant. */
function forbiddenByIdentity(err: unknown): string | undefined {
  return statusCode(err) === 403 ? denialMessage(apiErrorMessage(err)) : undefined;
}

function isTransient(err: unknown): boolean {
  if (err instanceof RemediatorError)
    return err.code === ERROR_CODES.kubeUnavailable || err.code === ERROR_CODES.conflict;
  return isUnavailable(err);
}
