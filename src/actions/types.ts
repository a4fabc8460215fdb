/**
 * The contract between the Remediation reconciler and the actions.
 *
 * A step runs in two phases, so that a crash at any instant neither repeats nor skips it:
 *  1. plan(): reads the target and returns what will change (`before`, `after`, and any
 *     choice made now, such as which pods to delete). No writes. The reconciler checkpoints
 *     the plan in `status.steps[i]` (phase Running, attempt, startedAt, before) BEFORE step 2.
 *  2. apply(): carries out the checkpointed plan, normally in the same reconcile pass right
 *     after the checkpoint was written, or in a later pass after a crash or an error. It must
 *     be safe to call again: it either is idempotent by nature (scale to N) or recognises its
 *     own stamp (`stamp` = `<remediation uid>/<step index>/<attempt>`) on the target and
 *     reports done.
 * Actions that wait (waitForRollout, checks) return `inProgress` until done; the reconciler
 * enforces the step timeout from `startedAt`.
 */
import type { KubeClients } from '../kube/client.js';
import type { ActionName, Bounds, Remediation, Step, StepStatus } from '../api/v1alpha1/schema.js';
import type { Clock } from '../util/clock.js';
import type { Logger } from '../observability/logger.js';
import type { ErrorCode } from '../util/errors.js';
import type { KubeObject } from '../kube/raw-object.js';

/**
 * When a step is planned, checkpointed and applied in one pass, apply() takes the object plan()
 * read milliseconds before instead of a second GET: plan() records its reads, then, once
 * applying, each recorded read is handed out once. Every other read (a revert's retry after a
 * lost compare-and-swap, a second read in apply) goes to the API server.
 */
export class PassReads {
  private readonly reads = new Map<string, KubeObject>();
  private applying = false;

  /** From here on, recorded reads are handed out (once each) and nothing new is recorded. */
  startApply(): void {
    this.applying = true;
  }

  record(key: string, obj: KubeObject): void {
    if (!this.applying) this.reads.set(key, obj);
  }

  take(key: string): KubeObject | undefined {
    if (!this.applying) return undefined;
    const obj = this.reads.get(key);
    this.reads.delete(key);
    return obj;
  }
}

/**
 * Cached reads of targets (runtime/target-cache.ts), for plan() only: a guess that
 * apply() confirms with a resourceVersion precondition (see readObject in kubernetes/reads.ts).
 */
export interface TargetReader {
  /**
   * The cached object, or undefined: not a cached kind or namespace, not synced yet, or not in
   * the cache (then GET it: it may be newer than the cache). Never mutate what it returns.
   */
  peek(ref: ResolvedTarget): KubeObject | undefined;
}

export interface ResolvedTarget {
  apiVersion: string;
  kind: string;
  namespace: string;
  name: string;
}

export interface ActionContext {
  readonly clients: KubeClients;
  readonly remediation: Remediation;
  readonly stepIndex: number;
  /** The step with every `{{ param }}` already rendered. */
  readonly step: Step;
  readonly target?: ResolvedTarget;
  readonly bounds?: Bounds;
  readonly dryRun: boolean;
  readonly attempt: number;
  /** `<remediation uid>/<step index>/<attempt>`: written on the target to make apply idempotent. */
  readonly stamp: string;
  readonly clock: Clock;
  readonly log: Logger;
  /**
   * plan()'s reads of this same reconcile pass, for its apply() (see PassReads). A new pass
   * (after a crash, a requeue, a retry) starts with none, so apply() then reads the target
   * afresh and can see its own stamp.
   */
  readonly reads?: PassReads;
  /** The target cache, when the operator runs one (`controller.targetCache`). */
  readonly targets?: TargetReader;
  /** Reads a Secret key in the Remediation's namespace (for urlFrom). */
  readSecret(name: string, key: string): Promise<string>;
}

/** What plan() decided; stored in status.steps[i] as the checkpoint. */
export interface Plan {
  /** Exact prior values of what will change (used for revert). */
  before?: Record<string, unknown>;
  /** The values after the change. */
  after?: Record<string, unknown>;
  /** A refusal decided before anything is sent (bounds, paused rollout, too many pods). */
  refused?: { code: ErrorCode; reason: string; message: string };
}

/**
 * `output` (any kind): what the step read, for people (status.steps[i].output and the audit
 * row): bounded and masked by the action (see output.ts). A later outcome replaces it.
 */
export type ActionOutcome =
  | {
      kind: 'done';
      message: string;
      before?: Record<string, unknown>;
      after?: Record<string, unknown>;
      diff?: Record<string, unknown>;
      output?: Record<string, unknown>;
    }
  | { kind: 'inProgress'; message: string; requeueAfterMs: number; output?: Record<string, unknown> }
  | {
      kind: 'failed';
      message: string;
      code: ErrorCode;
      reason: string;
      retryable: boolean;
      output?: Record<string, unknown>;
    };

export interface Action {
  readonly name: ActionName;
  /** True when the action changes the cluster (dry run applies to it). */
  readonly mutating: boolean;
  /** True when `revert` can undo it from the recorded `before`. */
  readonly reversible: boolean;
  /** Static checks of the step's parameters (used by Runbook validation); [] when fine. */
  validate(step: Step): string[];
  plan(ctx: ActionContext): Promise<Plan>;
  /** Carries out the checkpointed plan (`record.before/after`), idempotently. */
  apply(ctx: ActionContext, record: StepStatus): Promise<ActionOutcome>;
  /** Undoes the step from `record.before`. Only for reversible actions. */
  revert?(ctx: ActionContext, record: StepStatus): Promise<ActionOutcome>;
  /**
   * Before a revert is checkpointed: reads the target (a GET, recorded for revert() in the
   * same pass) and says whether the revert has anything to send. A message (as revert() would
   * end with) when `record.before` is in place already, so nothing would be sent; undefined
   * when it has something to send, or cannot tell. No writes. The reconciler then records the
   * revert done without its Reverting checkpoint: the checkpoint protects a side effect, and
   * there is none (ADR 0028). Optional: without it every revert is checkpointed first.
   */
  checkRevert?(ctx: ActionContext, record: StepStatus): Promise<string | undefined>;
}
