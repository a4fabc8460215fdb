/**
 * The decision of one reconcile pass, as a pure function (the cert-manager habit): observed
 * state and `now` in; the desired status (conditions, step records, phase) and at most one
 * next operation out. Nothing here reads the cluster or the clock, so every transition is a
 * row in a table test.
 *
 * The life of a Remediation:
 *   first pass   validate, copy + render the steps and copy the bounds (MissingParam /
 *                OutOfScope end it Failed), loop protection (Blocked), approval
 *                (AwaitingApproval / Skipped), budgets and the target lock (Pending with
 *                Blocked=True and why), then Running.
 *   each step    pass 1 `plan`: the reconciler calls plan() and writes the checkpoint
 *                (phase Running, attempt, startedAt, before/after) BEFORE anything changes;
 *                pass 2 `apply`: the action runs with that record; the outcome is recorded
 *                (done, in progress → look again, failed → retry with backoff or fail).
 *   the end      Succeeded / Failed / DryRun; later a revert request (annotation or the alert
 *                resolved) or `onFailure.revert` undoes reversible steps in reverse order,
 *                each checkpointed as Reverting before its side effect: Reverting → Reverted.
 * A crash between any two passes is harmless: every pass starts again from the status.
 */
import { ANNOTATIONS, CONDITION_TYPES, EVENT_REASONS, REASONS } from '../../api/v1alpha1/constants.js';
import type {
  ActionName,
  Remediation,
  RemediationStatus,
  Runbook,
  StepStatus,
} from '../../api/v1alpha1/schema.js';
import type { ActionOutcome, Plan, ResolvedTarget } from '../../actions/types.js';
import type { AuditEventType } from '../../audit/types.js';
import { rfc3339 } from '../../util/clock.js';
import { ERROR_CODES } from '../../util/errors.js';
import { formatDuration, parseDuration } from '../../util/duration.js';
import { conditionChanged, findCondition, setCondition, type ConditionInput } from './conditions.js';
import { failedAbove, layeredOn, revertHold } from './layering.js';
import { displayTarget, targetKey } from '../../runbook/target.js';
import { lockHolder, loopProtection, startBlocker } from './policy.js';
import {
  boundsToCopy,
  effectiveSafety,
  isResolveFailure,
  resolveSteps,
  stepSpec,
  stepTarget,
} from './resolve.js';
import { deepEqual, derivePhase, isDryRun, progressOf } from './status.js';

// Requeue delays. Waits on things that send no event to this Remediation (other Remediations
// finishing, the clock) need a requeue; annotation and Runbook changes arrive as events.
/** Budget, concurrency or lock: look again for a free slot. */
export const BLOCKED_REQUEUE_MS = 10_000;
/** The Runbook does not exist (yet): its creation also triggers us through the mapping. */
export const RUNBOOK_MISSING_REQUEUE_MS = 30_000;
/** Right after a checkpoint: go on at once (the status write's watch event usually wins). */
export const CHECKPOINT_REQUEUE_MS = 1;
/** First retry delay of a failed step attempt; doubled per attempt up to STEP_RETRY_MAX_MS. */
export const STEP_RETRY_BASE_MS = 5_000;
export const STEP_RETRY_MAX_MS = 300_000;
/** A revert that fails retryably is tried this many times in all (same backoff as steps). */
export const REVERT_MAX_ATTEMPTS = 5;
/**
 * The API server was unreachable during apply/revert: the checkpoint stays and the same
 * attempt (same stamp) runs again, so a call that did land is recognised, not repeated.
 */
export const TRANSIENT_REQUEUE_MS = 5_000;
/** Slack after a step's deadline so the timeout pass lands after it, not just before. */
const TIMEOUT_SLACK_MS = 50;

export interface ActionInfo {
  mutating: boolean;
  /** Has a revert() that undoes it from the recorded `before`. */
  reversible: boolean;
}

export interface DecideConfig {
  maxConcurrentRemediations: number;
  defaultStepTimeoutMs: number;
}

export interface Observed {
  remediation: Remediation;
  /** The Runbook of `spec.runbookRef`, read fresh; undefined for inline steps or when missing. */
  runbook?: Runbook;
  runbookMissing?: boolean;
  /** Validation problems of the Runbook (or of the inline steps); [] when valid. */
  runbookProblems: readonly string[];
  /** Every Remediation the cache knows (for budgets, the lock and loop protection). */
  peers: readonly Remediation[];
  actionInfo(name: ActionName): ActionInfo | undefined;
  config: DecideConfig;
  now: Date;
}

export type Operation =
  | { kind: 'none' }
  /** Call plan() for step `index`, then checkpoint it as attempt `attempt`. */
  | { kind: 'plan'; index: number; attempt: number }
  /** Call apply() for the checkpointed step `index`. */
  | { kind: 'apply'; index: number }
  /** Call revert() for step `index` (already checkpointed as Reverting). */
  | { kind: 'revert'; index: number };

export type Note =
  | { kind: 'event'; type: 'Normal' | 'Warning'; reason: string; message: string; target?: ResolvedTarget }
  | {
      kind: 'audit';
      event: AuditEventType;
      step?: string;
      phase?: string;
      message: string;
      details?: Record<string, unknown>;
    };

export interface Decision {
  op: Operation;
  status: RemediationStatus;
  requeueAfterMs?: number;
  /** Events and audit rows, emitted only after the status write succeeded. */
  notes: Note[];
}

export interface StepFailure {
  reason: string;
  message: string;
  retryable: boolean;
}

// ---------------------------------------------------------------------------------------

/** Mutable working copy of one pass. */
class Pass {
  readonly s: RemediationStatus;
  readonly notes: Note[] = [];
  requeueAfterMs?: number;
  readonly rem: Remediation;
  readonly gen: number | undefined;
  readonly now: Date;
  readonly nowText: string;

  constructor(
    readonly obs: Observed,
    status: RemediationStatus | undefined,
  ) {
    this.rem = obs.remediation;
    this.s = structuredClone(status ?? {});
    this.gen = this.rem.metadata.generation;
    this.now = obs.now;
    this.nowText = rfc3339(obs.now);
  }

  get dryRun(): boolean {
    return isDryRun(this.rem, this.s);
  }

  /** Sets a condition; returns true when its status or reason changed (the moment for an Event). */
  cond(input: ConditionInput): boolean {
    const before = this.s.conditions;
    this.s.conditions = setCondition(before, input, this.now, this.gen);
    return conditionChanged(before, this.s.conditions, input.type);
  }

  event(type: 'Normal' | 'Warning', reason: string, message: string, target?: ResolvedTarget): void {
    this.notes.push({ kind: 'event', type, reason, message, ...(target ? { target } : {}) });
  }

  audit(
    event: AuditEventType,
    message: string,
    extra: { step?: string; phase?: string; details?: Record<string, unknown> } = {},
  ): void {
    this.notes.push({ kind: 'audit', event, message, ...extra });
  }

  requeue(ms: number): void {
    this.requeueAfterMs = this.requeueAfterMs === undefined ? ms : Math.min(this.requeueAfterMs, ms);
  }

  /** The main target, for Events on it. */
  mainTarget(): ResolvedTarget | undefined {
    for (const rec of this.s.steps ?? []) {
      const t = stepTarget(rec);
      if (t && displayTarget(t, this.rem.metadata.namespace ?? '') === this.s.target) return t;
    }
    return undefined;
  }

  done(op: Operation = { kind: 'none' }): Decision {
    this.s.phase = derivePhase(this.s);
    const progress = progressOf(this.s.steps);
    if (progress) this.s.progress = progress;
    if (this.gen !== undefined) this.s.observedGeneration = this.gen;
    return {
      op,
      status: this.s,
      notes: this.notes,
      ...(this.requeueAfterMs !== undefined ? { requeueAfterMs: this.requeueAfterMs } : {}),
    };
  }
}

const name = (rem: Remediation): string => `${rem.metadata.namespace ?? ''}/${rem.metadata.name ?? ''}`;

/** A revert is asked for: by a person (annotation) or because the alert resolved (intake). */
export function revertRequested(rem: Remediation): boolean {
  return rem.metadata.annotations?.[ANNOTATIONS.revert] === 'true' || rem.spec.alert?.status === 'resolved';
}

export function stepTimeoutMs(rec: StepStatus, cfg: DecideConfig): number {
  const t = stepSpec(rec)?.timeout;
  return t ? parseDuration(t) : cfg.defaultStepTimeoutMs;
}

export function retryDelayMs(failedAttempt: number): number {
  return Math.min(STEP_RETRY_MAX_MS, STEP_RETRY_BASE_MS * 2 ** Math.max(0, failedAttempt - 1));
}

// ---------------------------------------------------------------------------------------

export function decide(obs: Observed): Decision {
  const p = new Pass(obs, obs.remediation.status);
  if (!obs.remediation.status?.phase) p.audit('created', 'remediation seen by the controller');
  // Over (Succeeded set): only a revert can still happen.
  if (findCondition(p.s.conditions, CONDITION_TYPES.succeeded)) return decideFinished(p);
  if (!p.s.startedAt) {
    const waiting = decideStart(p);
    if (waiting) return waiting;
  }
  return decideForward(p);
}

/** Gates before the first step; returns a Decision when it must stop here. */
function decideStart(p: Pass): Decision | undefined {
  const { obs, rem, s } = p;
  const ann = rem.metadata.annotations ?? {};

  if (rem.spec.runbookRef && (obs.runbookMissing || !obs.runbook)) {
    if (
      p.cond({
        type: CONDITION_TYPES.progressing,
        status: 'False',
        reason: REASONS.runbookNotFound,
        message: `runbook ${rem.spec.runbookRef.name} not found in namespace ${rem.metadata.namespace ?? ''}`,
      })
    ) {
      p.event(
        'Warning',
        EVENT_REASONS.blocked,
        `runbook ${rem.spec.runbookRef.name} not found; waiting for it`,
      );
    }
    p.requeue(RUNBOOK_MISSING_REQUEUE_MS);
    return p.done();
  }
  if (!s.steps?.length && obs.runbookProblems.length > 0) {
    if (!rem.spec.runbookRef)
      return finishFailed(p, REASONS.invalid, `invalid steps: ${obs.runbookProblems.join('; ')}`);
    // The Runbook may be fixed; its change requeues us through the mapping.
    if (
      p.cond({
        type: CONDITION_TYPES.progressing,
        status: 'False',
        reason: REASONS.runbookNotReady,
        message: `runbook ${rem.spec.runbookRef.name} is invalid: ${obs.runbookProblems.join('; ')}`,
      })
    ) {
      p.event(
        'Warning',
        EVENT_REASONS.blocked,
        `runbook ${rem.spec.runbookRef.name} is invalid; waiting for it to be fixed`,
      );
    }
    return p.done();
  }

  const rejectedBy = ann[ANNOTATIONS.rejectedBy];
  if (rejectedBy) {
    s.rejection = { by: rejectedBy, at: p.nowText };
    if (effectiveSafety(rem, obs.runbook)?.requireApproval) {
      p.cond({
        type: CONDITION_TYPES.approved,
        status: 'False',
        reason: REASONS.rejected,
        message: `rejected by ${rejectedBy}`,
      });
    }
    return finish(p, 'False', REASONS.rejected, `rejected by ${rejectedBy}: nothing was changed`, () => {
      p.event('Normal', EVENT_REASONS.rejected, `rejected by ${rejectedBy}`);
      p.audit('rejected', `rejected by ${rejectedBy}`, { details: { by: rejectedBy } });
    });
  }
  if (revertRequested(rem)) {
    s.revertRequestedAt ??= p.nowText;
    return finish(
      p,
      'False',
      REASONS.revertRequested,
      'the alert resolved (or a revert was asked for) before the remediation started: nothing to do',
      () => {
        p.event(
          'Normal',
          EVENT_REASONS.rejected,
          'skipped: the alert resolved before the remediation started',
        );
        p.audit('finished', 'skipped: resolved before start', { phase: 'Skipped' });
      },
    );
  }

  if (!s.steps?.length) {
    const r = resolveSteps(rem, obs.runbook);
    if (isResolveFailure(r)) {
      if (r.reason === REASONS.outOfScope)
        p.cond({
          type: CONDITION_TYPES.blocked,
          status: 'True',
          reason: REASONS.outOfScope,
          message: r.message,
        });
      return finishFailed(p, r.reason, r.message);
    }
    s.steps = r.steps;
    // The bounds go with the steps they were rendered under (read by effectiveSafety).
    s.bounds = boundsToCopy(rem, obs.runbook);
    if (r.target) s.target = displayTarget(r.target, rem.metadata.namespace ?? '');
    if (obs.runbook?.metadata.generation !== undefined) s.runbookGeneration = obs.runbook.metadata.generation;
  }
  const key = mainKey(p);
  const safety = effectiveSafety(rem, obs.runbook);

  // Dry runs change nothing, so they skip loop protection, approval and budgets: previewing
  // a risky runbook must stay possible when it is blocked or waiting for a person.
  if (!p.dryRun) {
    if (obs.runbook) {
      const loop = loopProtection(rem, key, obs.runbook, obs.peers, p.now);
      if (loop.blocked) {
        const msg = `the last ${loop.limit} remediations of runbook ${obs.runbook.metadata.name ?? ''} on ${key ?? ''} failed (${loop.failures.join(', ')}); a person must look first: annotate the Runbook ${ANNOTATIONS.clearBlock}=${key ?? ''} or delete the failed Remediations`;
        p.cond({
          type: CONDITION_TYPES.blocked,
          status: 'True',
          reason: REASONS.loopProtection,
          message: msg,
        });
        return finish(p, 'False', REASONS.loopProtection, msg, () => {
          p.event('Warning', EVENT_REASONS.blocked, msg);
          p.audit('blocked', msg, { phase: 'Blocked', details: { failures: loop.failures } });
        });
      }
    }

    if (safety?.requireApproval) {
      const approvedBy = ann[ANNOTATIONS.approvedBy];
      if (!approvedBy) {
        if (
          p.cond({
            type: CONDITION_TYPES.approved,
            status: 'False',
            reason: REASONS.awaitingApproval,
            message: `waiting for a person to annotate ${ANNOTATIONS.approvedBy}=<who> (or ${ANNOTATIONS.rejectedBy}=<who>)`,
          })
        ) {
          p.event(
            'Normal',
            EVENT_REASONS.awaitingApproval,
            `waiting for approval: kubectl annotate remediation ${rem.metadata.name ?? ''} ${ANNOTATIONS.approvedBy}=<you>`,
          );
        }
        return p.done();
      }
      s.approval ??= { by: approvedBy, at: p.nowText };
      if (
        p.cond({
          type: CONDITION_TYPES.approved,
          status: 'True',
          reason: REASONS.approved,
          message: `approved by ${s.approval.by}`,
        })
      ) {
        p.event('Normal', EVENT_REASONS.approved, `approved by ${s.approval.by}`);
        p.audit('approved', `approved by ${s.approval.by}`, { details: { by: s.approval.by } });
      }
    }

    const blocker = startBlocker(rem, key, obs.peers, {
      maxConcurrent: safety?.maxConcurrent,
      clusterBudget: obs.config.maxConcurrentRemediations,
    });
    if (blocker) {
      if (
        p.cond({
          type: CONDITION_TYPES.blocked,
          status: 'True',
          reason: blocker.reason,
          message: blocker.message,
        })
      ) {
        p.event('Normal', EVENT_REASONS.blocked, blocker.message);
        p.audit('blocked', blocker.message, { phase: 'Pending', details: { reason: blocker.reason } });
      }
      p.requeue(BLOCKED_REQUEUE_MS);
      return p.done();
    }
  }

  s.startedAt = p.nowText;
  s.dryRun = rem.spec.dryRun === true;
  if (findCondition(s.conditions, CONDITION_TYPES.blocked)) {
    p.cond({
      type: CONDITION_TYPES.blocked,
      status: 'False',
      reason: REASONS.started,
      message: 'no longer blocked',
    });
  }
  p.cond({
    type: CONDITION_TYPES.progressing,
    status: 'True',
    reason: REASONS.started,
    message: `started ${s.steps?.length ?? 0} steps${p.dryRun ? ' (dry run)' : ''}`,
  });
  const msg = `started ${p.dryRun ? 'dry run of ' : ''}${obs.runbook ? `runbook ${obs.runbook.metadata.name ?? ''}` : 'inline steps'}${s.target ? ` on ${s.target}` : ''}`;
  p.event('Normal', EVENT_REASONS.started, msg);
  const target = p.mainTarget();
  if (target && !p.dryRun)
    p.event('Normal', EVENT_REASONS.started, `kube-remediator: remediation ${name(rem)} started`, target);
  return undefined;
}

function mainKey(p: Pass): string | undefined {
  const t = p.mainTarget();
  return t ? targetKey(t) : undefined;
}

/** Marks the end (Succeeded condition) and runs the notes hook once, on the transition. */
function finish(
  p: Pass,
  status: 'True' | 'False',
  reason: string,
  message: string,
  notes: () => void,
): Decision {
  const changed = p.cond({ type: CONDITION_TYPES.succeeded, status, reason, message });
  if (findCondition(p.s.conditions, CONDITION_TYPES.progressing)) {
    p.cond({ type: CONDITION_TYPES.progressing, status: 'False', reason, message });
  }
  p.s.message = message;
  p.s.completedAt ??= p.nowText;
  if (changed) notes();
  return p.done();
}

function finishFailed(p: Pass, reason: string, message: string): Decision {
  const d = finish(p, 'False', reason, message, () => {
    p.event('Warning', EVENT_REASONS.failed, message);
    const target = p.mainTarget();
    if (target && p.s.startedAt)
      p.event('Warning', EVENT_REASONS.failed, `kube-remediator: remediation ${name(p.rem)} failed`, target);
    p.audit('finished', message, { phase: 'Failed', details: { reason } });
  });
  const onFailure = onFailureRevert(p);
  if (
    onFailure &&
    revertSet(p, 'failure').length > 0 &&
    !findCondition(p.s.conditions, CONDITION_TYPES.reverted)
  ) {
    p.s.revertMode = 'onFailure';
    p.cond({
      type: CONDITION_TYPES.reverted,
      status: 'Unknown',
      reason: REASONS.revertRequested,
      message: 'onFailure.revert: undoing the reversible steps already done',
    });
    p.event(
      'Normal',
      EVENT_REASONS.reverting,
      'undoing the reversible steps already done (onFailure.revert)',
    );
    p.requeue(CHECKPOINT_REQUEUE_MS);
    return p.done();
  }
  return d;
}

function onFailureRevert(p: Pass): boolean {
  return p.obs.runbook?.spec.onFailure?.revert === true && !p.dryRun;
}

// ---------------------------------------------------------------------------------------
// forward steps

function decideForward(p: Pass): Decision {
  const { s, obs } = p;
  const steps = s.steps ?? [];
  const failed = steps.find((r) => r.phase === 'Failed' && !stepSpec(r)?.continueOnFailure);
  if (failed)
    return finishFailed(p, REASONS.stepFailed, `step ${failed.name} failed: ${failed.message ?? ''}`);
  const idx = steps.findIndex((r) => r.phase === 'Pending' || r.phase === 'Running');
  if (idx < 0) return finishSucceeded(p);
  const rec = steps[idx]!;
  const label = `step ${idx + 1}/${steps.length} (${rec.name})`;

  if (rec.phase === 'Pending') {
    const due = rec.nextAttemptAt ? Date.parse(rec.nextAttemptAt) : 0;
    if (due > p.now.getTime()) {
      p.requeue(due - p.now.getTime());
      return p.done();
    }
    if (!p.dryRun && !lockFree(p)) return p.done();
    p.cond({
      type: CONDITION_TYPES.progressing,
      status: 'True',
      reason: REASONS.stepRunning,
      message: `${label} running`,
    });
    return p.done({ kind: 'plan', index: idx, attempt: (rec.attempt ?? 0) + 1 });
  }

  // Running, first attempt: the plan pass checked the lock, but possibly on a view that missed
  // a Remediation started at the same instant. Before the first apply, only the oldest active
  // one on the target goes on; the others wait (and their attempt starts when they may act, so
  // the wait does not count against the step timeout).
  if ((rec.attempt ?? 1) <= 1 && !p.dryRun && !lockFree(p)) {
    rec.startedAt = p.nowText;
    return p.done();
  }

  // Running: checkpointed. Enforce the step deadline before touching anything again.
  const timeout = stepTimeoutMs(rec, obs.config);
  const deadline = Date.parse(rec.startedAt ?? p.nowText) + timeout;
  if (p.now.getTime() >= deadline) {
    const stuck = rec.message ? `: ${rec.message}` : '';
    failStep(p, idx, {
      reason: REASONS.stepFailed,
      message: `timed out after ${formatDuration(timeout)}${stuck}`,
      retryable: true,
    });
    if (findCondition(p.s.conditions, CONDITION_TYPES.succeeded)) return p.done();
    return decideForward(p);
  }
  p.cond({
    type: CONDITION_TYPES.progressing,
    status: 'True',
    reason: REASONS.stepRunning,
    message: `${label} running`,
  });
  p.requeue(deadline - p.now.getTime() + TIMEOUT_SLACK_MS);
  return p.done({ kind: 'apply', index: idx });
}

/** The per-target lock while running: only the oldest active Remediation on a target acts. */
function lockFree(p: Pass): boolean {
  const key = mainKey(p);
  const holder = lockHolder(p.rem, key, p.obs.peers);
  if (!holder) {
    if (findCondition(p.s.conditions, CONDITION_TYPES.blocked)?.status === 'True') {
      p.cond({
        type: CONDITION_TYPES.blocked,
        status: 'False',
        reason: REASONS.started,
        message: 'no longer blocked',
      });
    }
    return true;
  }
  const msg = `${key ?? ''} is being remediated by ${name(holder)}, which is older; waiting for it to finish`;
  if (p.cond({ type: CONDITION_TYPES.blocked, status: 'True', reason: REASONS.targetLocked, message: msg })) {
    p.event('Normal', EVENT_REASONS.blocked, msg);
    p.audit('blocked', msg, { details: { reason: REASONS.targetLocked } });
  }
  p.requeue(BLOCKED_REQUEUE_MS);
  return false;
}

function finishSucceeded(p: Pass): Decision {
  const dry = p.dryRun;
  const n = p.s.steps?.length ?? 0;
  const msg = dry
    ? `dry run of ${n} steps done: nothing was changed; see status.steps[].diff`
    : `all ${n} steps succeeded`;
  finish(p, 'True', dry ? REASONS.dryRun : REASONS.allStepsSucceeded, msg, () => {
    p.event('Normal', dry ? EVENT_REASONS.dryRun : EVENT_REASONS.succeeded, msg);
    const target = p.mainTarget();
    if (target && !dry)
      p.event(
        'Normal',
        EVENT_REASONS.remediated,
        `kube-remediator: remediation ${name(p.rem)} succeeded`,
        target,
      );
    p.audit('finished', msg, { phase: dry ? 'DryRun' : 'Succeeded' });
  });
  // A revert asked for while the forward steps ran starts now, in the same pass.
  return decideFinished(p);
}

/**
 * Records a failed attempt: retry with exponential backoff while attempts remain and the
 * failure is retryable, else the step fails (and with it the Remediation, unless the step
 * has continueOnFailure).
 */
function failStep(p: Pass, idx: number, f: StepFailure): void {
  const rec = p.s.steps![idx]!;
  const spec = stepSpec(rec);
  const attempt = rec.attempt ?? 1;
  const maxAttempts = 1 + (spec?.retries ?? 0);
  if (f.retryable && attempt < maxAttempts) {
    const delay = retryDelayMs(attempt);
    rec.phase = 'Pending';
    rec.nextAttemptAt = rfc3339(new Date(p.now.getTime() + delay));
    rec.message = `attempt ${attempt} of ${maxAttempts} failed: ${f.message}; next attempt at ${rec.nextAttemptAt}`;
    p.cond({
      type: CONDITION_TYPES.progressing,
      status: 'True',
      reason: REASONS.stepRetrying,
      message: `step ${rec.name}: ${rec.message}`,
    });
    p.event('Warning', EVENT_REASONS.stepRetrying, `step ${rec.name}: ${rec.message}`);
    p.audit('step_finished', rec.message, {
      step: rec.name,
      phase: 'Retrying',
      details: { attempt, reason: f.reason },
    });
    p.requeue(delay);
    return;
  }
  rec.phase = 'Failed';
  rec.finishedAt = p.nowText;
  delete rec.nextAttemptAt;
  rec.message = attempt > 1 ? `failed after ${attempt} attempts: ${f.message}` : f.message;
  p.event('Warning', EVENT_REASONS.stepFailed, `step ${rec.name} (${rec.action}) failed: ${rec.message}`);
  p.audit('step_finished', rec.message, {
    step: rec.name,
    phase: 'Failed',
    details: { attempt, reason: f.reason, ...(rec.output ? { output: rec.output } : {}) },
  });
  if (!spec?.continueOnFailure) finishFailed(p, f.reason, `step ${rec.name} failed: ${rec.message}`);
  else p.requeue(CHECKPOINT_REQUEUE_MS);
}

// ---------------------------------------------------------------------------------------
// outcomes of the operation (pure too): the status to write after the reconciler ran it

/** What plan() gave, or why it could not plan (an error that is not the API being down). */
export type PlanResult = { plan: Plan } | { error: StepFailure };

/** The checkpoint after plan(): Running, attempt, startedAt, before/after, written BEFORE apply. */
export function afterPlan(
  obs: Observed,
  d: Decision,
  op: Extract<Operation, { kind: 'plan' }>,
  result: PlanResult,
): Decision {
  const p = new Pass(obs, d.status);
  p.notes.push(...d.notes);
  const rec = p.s.steps![op.index]!;
  rec.attempt = op.attempt;
  delete rec.nextAttemptAt;
  delete rec.finishedAt;
  if ('error' in result) {
    failStep(p, op.index, result.error);
    return p.done();
  }
  const { plan } = result;
  if (plan.refused) {
    // Refusals (bounds, paused rollout) are decided before anything is sent: never retried.
    failStep(p, op.index, {
      reason: plan.refused.reason,
      message: `refused: ${plan.refused.message}`,
      retryable: false,
    });
    return p.done();
  }
  rec.phase = 'Running';
  rec.startedAt = p.nowText;
  rec.message = `attempt ${op.attempt} started`;
  // A retry keeps the first `before`: an earlier attempt may have landed, and then the new
  // plan's `before` is already the changed value, which a revert would "restore".
  if (!(op.attempt > 1 && rec.before)) {
    if (plan.before) rec.before = plan.before;
    else delete rec.before;
  }
  if (plan.after) rec.after = plan.after;
  else delete rec.after;
  // Reverts unwind newest first: note whose change this one changes again (layering.ts). A
  // retry keeps the first attempt's, as it keeps its `before`.
  if (!(op.attempt > 1 && rec.layeredOn)) {
    const on = p.dryRun ? [] : layeredOn(p.rem, rec, obs.peers);
    if (on.length > 0) rec.layeredOn = on;
    else delete rec.layeredOn;
  }
  p.event(
    'Normal',
    EVENT_REASONS.stepStarted,
    `step ${rec.name} (${rec.action}) started${op.attempt > 1 ? `, attempt ${op.attempt}` : ''}${rec.target ? ` on ${rec.target}` : ''}`,
  );
  p.audit('step_started', `step ${rec.name} started`, {
    step: rec.name,
    phase: 'Running',
    details: { attempt: op.attempt, before: plan.before, after: plan.after },
  });
  p.requeue(CHECKPOINT_REQUEUE_MS);
  return p.done();
}

/**
 * After an effect's outcome (afterApply, afterRevert): when what the next pass would decide on
 * that status is a status change alone that starts nothing (the Remediation finishes, a revert
 * waits), it goes into the same write. A one-step Remediation then takes two status writes
 * (checkpoint; outcome and finish) instead of three. Anything that starts something (plan or
 * apply a step, a revert's checkpoint) is left to the next pass, after a fresh look at the
 * cache: one side effect per pass, each after its own checkpoint. `now`: the time after the
 * effect (the pass's own `now` is from before it).
 */
export function withFollowUp(obs: Observed, d: Decision, now: Date = obs.now): Decision {
  // A view of obs with the new status and time; its peers stay lazy (listing them costs).
  const later = Object.create(obs, {
    remediation: { value: { ...obs.remediation, status: d.status }, enumerable: true },
    now: { value: now, enumerable: true },
  }) as Observed;
  const next = decide(later);
  if (next.op.kind !== 'none' || !deepEqual(next.status.steps, d.status.steps)) return d;
  return { ...next, notes: [...d.notes, ...next.notes] };
}

/** The record after apply(). */
export function afterApply(
  obs: Observed,
  d: Decision,
  op: Extract<Operation, { kind: 'apply' }>,
  outcome: ActionOutcome,
): Decision {
  const p = new Pass(obs, d.status);
  p.notes.push(...d.notes);
  const rec = p.s.steps![op.index]!;
  switch (outcome.kind) {
    case 'done': {
      rec.phase = p.dryRun ? 'DryRun' : 'Succeeded';
      rec.finishedAt = p.nowText;
      rec.message = outcome.message;
      // Like the plan: a retry keeps the `before` of the first attempt.
      if (outcome.before && !((rec.attempt ?? 1) > 1 && rec.before)) rec.before = outcome.before;
      if (outcome.after) rec.after = outcome.after;
      if (outcome.diff) rec.diff = outcome.diff;
      recordOutput(rec, outcome);
      p.event(
        'Normal',
        EVENT_REASONS.stepSucceeded,
        `step ${rec.name} (${rec.action}) ${p.dryRun ? 'dry run' : 'done'}: ${outcome.message}`,
      );
      const target = stepTarget(rec);
      if (target && !p.dryRun && obs.actionInfo(rec.action)?.mutating) {
        p.event(
          'Normal',
          EVENT_REASONS.remediated,
          `kube-remediator: ${rec.action} by remediation ${name(p.rem)}`,
          target,
        );
      }
      p.audit('step_finished', outcome.message, {
        step: rec.name,
        phase: rec.phase,
        details: { before: rec.before, after: rec.after, diff: rec.diff, output: rec.output },
      });
      p.requeue(CHECKPOINT_REQUEUE_MS);
      break;
    }
    case 'inProgress': {
      // Kept so that a timeout can say where it was stuck (e.g. "1/3 ready; web-x CrashLoopBackOff").
      rec.message = outcome.message;
      recordOutput(rec, outcome);
      const deadline = Date.parse(rec.startedAt ?? p.nowText) + stepTimeoutMs(rec, obs.config);
      p.requeue(Math.max(1, Math.min(outcome.requeueAfterMs, deadline - p.now.getTime() + TIMEOUT_SLACK_MS)));
      break;
    }
    case 'failed':
      if (outcome.code === ERROR_CODES.kubeUnavailable) {
        rec.message = outcome.message;
        p.requeue(TRANSIENT_REQUEUE_MS);
        break;
      }
      recordOutput(rec, outcome);
      failStep(p, op.index, {
        reason: outcome.reason,
        message: outcome.message,
        retryable: outcome.retryable,
      });
      break;
  }
  return p.done();
}

/** What the attempt read (StepStatus.output): the latest outcome's, or none. */
function recordOutput(rec: StepStatus, outcome: ActionOutcome): void {
  if (outcome.output) rec.output = outcome.output;
  else delete rec.output;
}

// ---------------------------------------------------------------------------------------
// revert

type RevertMode = 'resolve' | 'failure';

/**
 * Steps to undo, in forward order: done (not dry run), reversible, and either marked
 * revertOnResolve (a revert request) or any reversible one (onFailure.revert after a failure).
 * A Failed step with a recorded `before` counts as done: its change may have landed (the
 * call went through, then the check failed), and a revert restores `before`, idempotently.
 */
function revertSet(p: Pass, mode: RevertMode): number[] {
  const out: number[] = [];
  for (const [i, rec] of (p.s.steps ?? []).entries()) {
    const done = ['Succeeded', 'Reverting', 'Reverted'].includes(rec.phase);
    if (!done && !(rec.phase === 'Failed' && rec.before)) continue;
    if (!p.obs.actionInfo(rec.action)?.reversible) continue;
    if (mode === 'resolve' && !stepSpec(rec)?.revertOnResolve) continue;
    out.push(i);
  }
  return out;
}

/** The kind of revert: as recorded when it started, so a Runbook edited (or deleted) mid-revert cannot shrink the set. */
function revertMode(p: Pass): RevertMode {
  if (p.s.revertMode) return p.s.revertMode === 'onFailure' ? 'failure' : 'resolve';
  // Reverts started before the field existed.
  const failed = findCondition(p.s.conditions, CONDITION_TYPES.succeeded)?.status === 'False';
  return failed && onFailureRevert(p) ? 'failure' : 'resolve';
}

function decideFinished(p: Pass): Decision {
  const { s, rem } = p;
  const reverted = findCondition(s.conditions, CONDITION_TYPES.reverted);
  if (reverted && reverted.status !== 'Unknown') return p.done();
  if (!reverted) {
    if (p.dryRun || !revertRequested(rem) || revertSet(p, 'resolve').length === 0) {
      releaseRevertHold(p, 'the revert is no longer asked for');
      return p.done();
    }
    s.revertRequestedAt ??= p.nowText;
    if (revertHeld(p, revertSet(p, 'resolve'))) return p.done();
    s.revertMode = 'onResolve';
    const why =
      rem.metadata.annotations?.[ANNOTATIONS.revert] === 'true'
        ? `annotation ${ANNOTATIONS.revert}=true`
        : 'the alert resolved';
    p.cond({
      type: CONDITION_TYPES.reverted,
      status: 'Unknown',
      reason: REASONS.revertRequested,
      message: `reverting: ${why}`,
    });
    p.event('Normal', EVENT_REASONS.reverting, `reverting the steps marked revertOnResolve: ${why}`);
  }

  const set = revertSet(p, revertMode(p));
  const idx = [...set].reverse().find((i) => p.s.steps![i]!.phase !== 'Reverted');
  if (idx === undefined) {
    const n = set.length;
    const msg = `reverted ${n} step${n === 1 ? '' : 's'}`;
    p.cond({ type: CONDITION_TYPES.reverted, status: 'True', reason: REASONS.revertSucceeded, message: msg });
    p.cond({
      type: CONDITION_TYPES.progressing,
      status: 'False',
      reason: REASONS.revertSucceeded,
      message: msg,
    });
    s.completedAt = p.nowText;
    s.message = msg;
    p.event('Normal', EVENT_REASONS.reverted, msg);
    const target = p.mainTarget();
    if (target)
      p.event(
        'Normal',
        EVENT_REASONS.reverted,
        `kube-remediator: remediation ${name(rem)} reverted its changes`,
        target,
      );
    p.audit('reverted', msg, { phase: 'Reverted' });
    return p.done();
  }
  const rec = s.steps![idx]!;
  p.cond({
    type: CONDITION_TYPES.progressing,
    status: 'True',
    reason: REASONS.revertRequested,
    message: `reverting step ${rec.name}`,
  });
  if (rec.phase === 'Reverting') {
    const due = rec.nextAttemptAt ? Date.parse(rec.nextAttemptAt) : 0;
    if (due > p.now.getTime()) {
      p.requeue(due - p.now.getTime());
      return p.done();
    }
    return p.done({ kind: 'revert', index: idx });
  }
  if (!lockFree(p)) return p.done();
  // Checkpoint before the side effect: a crash after it resumes with revert(), not a re-check.
  rec.revertedFrom = rec.phase === 'Failed' ? 'Failed' : 'Succeeded';
  rec.phase = 'Reverting';
  rec.revertAttempt = 1;
  delete rec.nextAttemptAt;
  rec.message = 'revert started';
  p.event('Normal', EVENT_REASONS.reverting, `reverting step ${rec.name} (${rec.action})`);
  p.audit('step_started', `revert of step ${rec.name} started`, { step: rec.name, phase: 'Reverting' });
  p.requeue(CHECKPOINT_REQUEUE_MS);
  return p.done();
}

/**
 * A newer Remediation changed the same fields again and its change is still in place: this
 * revert waits for that one's (layering.ts). Blocked=True with reason RevertHeld says so; the
 * newer one's status changes wake this one (mapping), and a requeue looks again meanwhile.
 */
function revertHeld(p: Pass, indexes: readonly number[]): boolean {
  const hold = revertHold(p.rem, indexes, p.obs.peers);
  if (!hold) {
    const failed = failedAbove(p.rem, indexes, p.obs.peers);
    releaseRevertHold(
      p,
      failed
        ? `the revert of remediation ${failed.remediation} (step ${failed.step}) failed; reverting step ` +
            `${failed.mine} now: a value changed since it was set is left alone`
        : 'the newer changes to the same fields are reverted',
    );
    return false;
  }
  const msg =
    `revert held: step ${hold.mine} waits for remediation ${hold.remediation} (step ${hold.step}), which ` +
    `changed the same fields afterwards and has not been reverted; it reverts first (when its alert ` +
    `resolves, or annotate it ${ANNOTATIONS.revert}=true), or delete it to revert this one now`;
  if (p.cond({ type: CONDITION_TYPES.blocked, status: 'True', reason: REASONS.revertHeld, message: msg })) {
    p.event('Normal', EVENT_REASONS.revertHeld, msg);
    p.audit('blocked', msg, { details: { reason: REASONS.revertHeld, waitsFor: hold.remediation } });
  }
  p.s.message = msg;
  p.requeue(BLOCKED_REQUEUE_MS);
  return true;
}

function releaseRevertHold(p: Pass, why: string): void {
  const c = findCondition(p.s.conditions, CONDITION_TYPES.blocked);
  if (c?.status !== 'True' || c.reason !== REASONS.revertHeld) return;
  p.cond({ type: CONDITION_TYPES.blocked, status: 'False', reason: REASONS.revertHeld, message: why });
  p.s.message = why;
}

/** The record after revert(). */
export function afterRevert(
  obs: Observed,
  d: Decision,
  op: Extract<Operation, { kind: 'revert' }>,
  outcome: ActionOutcome,
): Decision {
  const p = new Pass(obs, d.status);
  p.notes.push(...d.notes);
  const rec = p.s.steps![op.index]!;
  switch (outcome.kind) {
    case 'done':
      rec.phase = 'Reverted';
      rec.revertedAt = p.nowText;
      delete rec.nextAttemptAt;
      rec.message = outcome.message;
      p.event(
        'Normal',
        EVENT_REASONS.reverted,
        `step ${rec.name} (${rec.action}) reverted: ${outcome.message}`,
      );
      p.audit('reverted', outcome.message, {
        step: rec.name,
        phase: 'Reverted',
        details: { restored: rec.before },
      });
      p.requeue(CHECKPOINT_REQUEUE_MS);
      break;
    case 'inProgress':
      rec.message = outcome.message;
      p.requeue(outcome.requeueAfterMs);
      break;
    case 'failed': {
      if (outcome.code === ERROR_CODES.kubeUnavailable) {
        rec.message = outcome.message;
        p.requeue(TRANSIENT_REQUEUE_MS);
        break;
      }
      const attempt = rec.revertAttempt ?? 1;
      if (outcome.retryable && attempt < REVERT_MAX_ATTEMPTS) {
        // Like a step: try again after a backoff; the Reverting checkpoint stays.
        const delay = retryDelayMs(attempt);
        rec.revertAttempt = attempt + 1;
        rec.nextAttemptAt = rfc3339(new Date(p.now.getTime() + delay));
        rec.message = `revert attempt ${attempt} of ${REVERT_MAX_ATTEMPTS} failed: ${outcome.message}; next attempt at ${rec.nextAttemptAt}`;
        p.event('Warning', EVENT_REASONS.stepRetrying, `step ${rec.name}: ${rec.message}`);
        p.audit('step_finished', rec.message, {
          step: rec.name,
          phase: 'Retrying',
          details: { revertAttempt: attempt, reason: outcome.reason },
        });
        p.requeue(delay);
        break;
      }
      // A failed undo needs a person: the step is back where it was (its change is in place).
      rec.phase = rec.revertedFrom ?? 'Succeeded';
      delete rec.nextAttemptAt;
      const why =
        attempt > 1 ? `failed after ${attempt} attempts: ${outcome.message}` : `failed: ${outcome.message}`;
      rec.message = `revert ${why}`;
      const msg = `revert of step ${rec.name} ${why}`;
      p.cond({ type: CONDITION_TYPES.reverted, status: 'False', reason: REASONS.revertFailed, message: msg });
      p.cond({
        type: CONDITION_TYPES.progressing,
        status: 'False',
        reason: REASONS.revertFailed,
        message: msg,
      });
      p.s.completedAt = p.nowText;
      p.s.message = msg;
      p.event('Warning', EVENT_REASONS.failed, msg);
      p.audit('reverted', msg, { step: rec.name, phase: 'Failed', details: { reason: outcome.reason } });
      break;
    }
  }
  return p.done();
}
