/**
 * What the decision of one pass reads and returns. The decision is pure (the cert-manager
 * habit): a fully gathered `Observed` and `now` in; the desired status (conditions, step
 * records, phase), at most one next operation and the notes describing it out. Nothing in the
 * decision reads the cluster or the clock, so every transition is a row in a table test.
 */
import type {
  ActionName,
  GitOpsOwnerRecord,
  GitOpsPolicy,
  GuardRecord,
  Remediation,
  RemediationStatus,
  Runbook,
} from '../../api/v1alpha1/schema.js';
import type { IdentitySettings } from '../../security/identity.js';
import type { Action, ActionOutcome, Plan, ResolvedTarget } from '../../actions/types.js';
import type { AuditEventType } from '../../audit/types.js';

// Requeue delays. Waits on things that send no event to this Remediation (other Remediations
// finishing, the clock) need a requeue; annotation and Runbook changes arrive as events.
/** Budget, concurrency or lock: look again for a free slot. */
export const BLOCKED_REQUEUE_MS = 10_000;
/** The Runbook does not exist (yet): its creation also triggers us through the mapping. */
export const RUNBOOK_MISSING_REQUEUE_MS = 30_000;
/** Right after a checkpoint: go on at once (the status write's watch event usually wins). */
export const CHECKPOINT_REQUEUE_MS = 1;
/**
 * The API server was unreachable during apply/revert: the checkpoint stays and the same
 * attempt (same stamp) runs again, so a call that did land is recognised, not repeated.
 */
export const TRANSIENT_REQUEUE_MS = 5_000;
/** Slack after a step's deadline so the timeout pass lands after it, not just before. */
export const TIMEOUT_SLACK_MS = 50;

export interface ActionInfo {
  mutating: boolean;
  /** Has a revert() that undoes it from the recorded `before`. */
  reversible: boolean;
  /** Has a checkRevert(): a revert with nothing to send is recorded without a checkpoint. */
  checksRevert?: boolean;
}

/** What the decision knows of an action (the reconciler, the offline simulation). */
export function actionInfoOf(a: Action | undefined): ActionInfo | undefined {
  if (!a) return undefined;
  const reversible = a.reversible && typeof a.revert === 'function';
  return {
    mutating: a.mutating,
    reversible,
    ...(reversible && typeof a.checkRevert === 'function' ? { checksRevert: true } : {}),
  };
}

export interface DecideConfig {
  maxConcurrentRemediations: number;
  defaultStepTimeoutMs: number;
  /** The operator's GitOps settings (gitops.ts); absent: GitOps detection is off. */
  gitops?: GitOpsConfig;
  /** Whose rights steps use and how approval is read (ADR 0023); absent: single-tenant. */
  identity?: IdentitySettings;
}

export interface GitOpsConfig {
  defaultPolicy: GitOpsPolicy;
  defaultMaxPause: string;
  driftCheckIntervalMs: number;
  driftWatchMs: number;
}

/** What the reconciler read for the GitOps rules (gitops.ts): gathered, never fetched by the decision. */
export interface GitOpsObserved {
  /** Before the start: the owners of the targets the steps change (none: []). */
  owners?: GitOpsOwnerRecord[];
  /** While watching for drift: what each watched step's target holds now (its plan's `before`). */
  current?: { index: number; found: Record<string, unknown> | undefined }[];
}

export interface Observed {
  remediation: Remediation;
  /** The Runbook of `spec.runbookRef`; undefined for inline steps or when missing. */
  runbook?: Runbook;
  runbookMissing?: boolean;
  /** Validation problems of the Runbook (or of the inline steps); [] when valid. */
  runbookProblems: readonly string[];
  /**
   * Every Remediation the cache knows, this process's own starts laid over them (budgets, the
   * lock, loop protection, layering). Gathered only when `needsPeers` says the pass may look at
   * them: listing a large cache on every pass made a restart with 10,000 finished Remediations
   * quadratic. A decision that needs them when they were not gathered throws.
   */
  peers?: readonly Remediation[];
  actionInfo: (name: ActionName) => ActionInfo | undefined;
  config: DecideConfig;
  /** GitOps reads (gitops.ts), when the pass needed them. */
  gitops?: GitOpsObserved;
  now: Date;
}

export type PlanOperation = { kind: 'plan'; index: number; attempt: number };
/** `attempt`: the step's attempt whose checkpoint it runs on (the stamp's). */
export type ApplyOperation = { kind: 'apply'; index: number; attempt: number };
export type RevertOperation = { kind: 'revert'; index: number; attempt: number };
/**
 * Read the target of step `index` and say whether its revert has anything to send (the
 * action's checkRevert): the decision's status is the Reverting checkpoint, written only when
 * it has (ADR 0028).
 */
export type CheckRevertOperation = { kind: 'checkRevert'; index: number; attempt: number };
/** Evaluate the guard of step `index` (-1: the Runbook's `spec.guard`): reads only. */
export type GuardOperation = { kind: 'guard'; index: number; attempt: number };
/** Send escalation `index` of the Runbook (checkpointed as Sending first). */
export type EscalateOperation = { kind: 'escalate'; index: number; attempt: number };
/** The Runbook-level guard's index in a GuardOperation. */
export const RUNBOOK_GUARD = -1;

export type Operation =
  | { kind: 'none' }
  /** Call plan() for step `index`, then checkpoint it as attempt `attempt`. */
  | PlanOperation
  /** Call apply() for the checkpointed step `index`. */
  | ApplyOperation
  /** Call revert() for step `index` (already checkpointed as Reverting). */
  | RevertOperation
  | CheckRevertOperation
  | GuardOperation
  | EscalateOperation;

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
  /**
   * Set when `next` got an effect that is not what this state would run (the Remediation
   * changed meanwhile): nothing was recorded and there is nothing to write.
   */
  effectLost?: true;
}

export interface StepFailure {
  reason: string;
  message: string;
  retryable: boolean;
}

/** What plan() gave, or why it could not plan (an error that is not the API being down). */
export type PlanResult = { plan: Plan } | { error: StepFailure };

/**
 * What the reconciler did for the operation a decision asked for, handed back to `next`:
 * plan()'s result (recorded as the checkpoint), or apply()/revert()'s outcome and the time it
 * came back (the follow-up decides at that time).
 */
export type Effect =
  | { op: PlanOperation; result: PlanResult }
  | { op: ApplyOperation | RevertOperation; outcome: ActionOutcome; at: Date }
  | { op: GuardOperation; evaluation: GuardRecord }
  /** `nothingToDo`: checkRevert's message when `before` is in place already; undefined: revert. */
  | { op: CheckRevertOperation; nothingToDo: string | undefined; at: Date }
  | { op: EscalateOperation; outcome: ActionOutcome; at: Date };
