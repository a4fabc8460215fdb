/**
 * The safety policies that look at other Remediations (from the informer cache): per-runbook
 * concurrency, the cluster budget, the per-target lock and loop protection. Pure functions of
 * the peers list, so they are table-tested and the reconciler only gathers the list.
 *
 * Loop protection, and how a person clears it:
 *   When the last N (`safety.maxConsecutiveFailures`, default 3) finished attempts of the same
 *   Runbook on the same target all failed, a new Remediation ends Blocked (reason
 *   LoopProtection) without touching the target. Only attempts count: Remediations that
 *   started their first step and finished; dry runs, rejected, skipped and blocked ones do not,
 *   so a blocked one never "breaks" the chain and lets the next one through. To clear it:
 *     - annotate the Runbook `kube-remediator.io/clear-block=<Kind>/<namespace>/<name>` (a
 *       comma-separated list, or `*` for every target). The Runbook controller stamps each
 *       entry with the time it first saw it (`Deployment/prod/web@2026-01-01T00:00:00Z`);
 *       failures that finished before that time no longer count. The stamp makes the clearing
 *       a point in time, so leaving the annotation in place does not switch protection off:
 *       N new failures block again. Or:
 *     - delete the failed Remediations (they are the evidence; fewer than N left = unblocked).
 *   A Remediation already Blocked stays Blocked (final); the next alert creates a new one.
 *
 * Ineffective runs (issue #12): a run that Succeeded counts as a failure when a new Remediation
 * of the same Runbook on the same target was created within `safety.ineffectiveWindow`
 * (default 10m) after it finished: the fix did not hold, and the same fix applied again and
 * again must trip loop protection like any failure does.
 */
import { ANNOTATIONS } from '../../api/v1alpha1/constants.js';
import type { Remediation, RemediationPhase, Runbook } from '../../api/v1alpha1/schema.js';
import { parseClearBlock } from '../../runbook/clear-block.js';
import {
  attemptOutcome,
  DEFAULT_MAX_CONSECUTIVE_FAILURES,
  finishedAt,
  isOlder,
  newestFinishedFirst,
  targetKeyOf,
} from '../../api/v1alpha1/lifecycle.js';
import { parseDuration } from '../../util/duration.js';

export { attemptOutcome, DEFAULT_MAX_CONSECUTIVE_FAILURES, targetKeyOf };

/** Phases in which a Remediation holds budget and the lock on its target. */
const ACTIVE_PHASES: ReadonlySet<RemediationPhase> = new Set<RemediationPhase>([
  'Running',
  'Verifying',
  'Reverting',
]);

export function isActive(rem: Remediation): boolean {
  return rem.status?.phase !== undefined && ACTIVE_PHASES.has(rem.status.phase);
}

export function sameObject(a: Remediation, b: Remediation): boolean {
  return a.metadata.namespace === b.metadata.namespace && a.metadata.name === b.metadata.name;
}

function sameRunbook(rem: Remediation, namespace: string, runbook: string): boolean {
  return rem.metadata.namespace === namespace && rem.spec.runbookRef?.name === runbook;
}

export interface Blocker {
  reason: 'ConcurrencyLimit' | 'ClusterBudget' | 'TargetLocked';
  message: string;
}

/** A Blocked condition with one of these reasons waits for a slot that a finish may free. */
export const SLOT_REASONS: ReadonlySet<string> = new Set<Blocker['reason']>([
  'ConcurrencyLimit',
  'ClusterBudget',
  'TargetLocked',
]);

/**
 * Whether `me` may start now. The lock is judged from the cache: any other active Remediation
 * on the same target holds it. (While running, `lockHolder` lets only the oldest go on, which
 * settles the rare case where two started in the same instant from a stale cache.)
 */
export function startBlocker(
  me: Remediation,
  key: string | undefined,
  peers: readonly Remediation[],
  limits: { maxConcurrent?: number; clusterBudget: number },
): Blocker | undefined {
  const others = peers.filter((p) => !sameObject(p, me) && isActive(p));
  const holder = key ? others.find((p) => targetKeyOf(p) === key) : undefined;
  if (holder) {
    return {
      reason: 'TargetLocked',
      message: `${key} is being remediated by ${holder.metadata.namespace}/${holder.metadata.name}; waiting for it to finish`,
    };
  }
  const rb = me.spec.runbookRef?.name;
  if (rb && limits.maxConcurrent !== undefined) {
    const n = others.filter((p) => sameRunbook(p, me.metadata.namespace ?? '', rb)).length;
    if (n >= limits.maxConcurrent) {
      return {
        reason: 'ConcurrencyLimit',
        message: `${n} remediations of runbook ${rb} are running (safety.maxConcurrent=${limits.maxConcurrent}); waiting for one to finish`,
      };
    }
  }
  if (others.length >= limits.clusterBudget) {
    return {
      reason: 'ClusterBudget',
      message: `${others.length} remediations are running cluster-wide (controller.maxConcurrentRemediations=${limits.clusterBudget}); waiting for one to finish`,
    };
  }
  return undefined;
}

/** While running: an older active Remediation on the same target, which goes first. */
export function lockHolder(
  me: Remediation,
  key: string | undefined,
  peers: readonly Remediation[],
): Remediation | undefined {
  if (!key) return undefined;
  return peers.find((p) => !sameObject(p, me) && isActive(p) && targetKeyOf(p) === key && isOlder(p, me));
}

export interface LoopVerdict {
  blocked: boolean;
  /** The failed attempts that caused the block, newest first. */
  failures: string[];
  limit: number;
}

export const DEFAULT_INEFFECTIVE_WINDOW = '10m';

/** `safety.ineffectiveWindow` in ms (0: off). */
export function ineffectiveWindowMs(runbook: Runbook): number {
  try {
    return parseDuration(runbook.spec.safety?.ineffectiveWindow ?? DEFAULT_INEFFECTIVE_WINDOW);
  } catch {
    return parseDuration(DEFAULT_INEFFECTIVE_WINDOW);
  }
}

/**
 * Whether `later` came from an alert within `windowMs` after `run` finished (its alert fired
 * again soon). A Remediation a person applied is not the alert firing again.
 */
function firedAgainSoon(run: Remediation, later: Remediation, windowMs: number): boolean {
  if (!later.spec.alert) return false;
  // creationTimestamp has whole seconds, completedAt milliseconds: compared to the second, a
  // Remediation created in the second its predecessor finished counts as after it.
  const done = Math.floor(Date.parse(run.status?.completedAt ?? '') / 1000) * 1000;
  const created = Date.parse(later.metadata.creationTimestamp ?? '');
  return !Number.isNaN(done) && !Number.isNaN(created) && created >= done && created - done <= windowMs;
}

/**
 * A finished attempt's outcome for loop protection: a Succeeded one counts as failed
 * ('ineffective') when one of `others` (same Runbook, same target) came within the window after it.
 */
function countedOutcome(
  run: Remediation,
  others: readonly Remediation[],
  windowMs: number,
): 'failed' | 'succeeded' | 'ineffective' | undefined {
  const outcome = attemptOutcome(run);
  if (outcome !== 'succeeded' || windowMs <= 0) return outcome;
  return others.some((o) => !sameObject(o, run) && firedAgainSoon(run, o, windowMs))
    ? 'ineffective'
    : outcome;
}

/**
 * The newest finished attempt of `runbook` on `key` before `me`, when it Succeeded and `me` came
 * within `safety.ineffectiveWindow` after it: that run was ineffective (condition
 * PreviousRunIneffective on `me`).
 */
export function ineffectiveBefore(
  me: Remediation,
  key: string | undefined,
  runbook: Runbook,
  peers: readonly Remediation[],
): Remediation | undefined {
  const windowMs = ineffectiveWindowMs(runbook);
  if (!key || windowMs <= 0) return undefined;
  const last = peers
    .filter(
      (p) =>
        !sameObject(p, me) &&
        sameRunbook(p, me.metadata.namespace ?? '', runbook.metadata.name ?? '') &&
        targetKeyOf(p) === key &&
        attemptOutcome(p) !== undefined,
    )
    .sort(newestFinishedFirst)[0];
  return last && attemptOutcome(last) === 'succeeded' && firedAgainSoon(last, me, windowMs)
    ? last
    : undefined;
}

export function loopProtection(
  me: Remediation,
  key: string | undefined,
  runbook: Runbook,
  peers: readonly Remediation[],
  now: Date,
): LoopVerdict {
  const limit = runbook.spec.safety?.maxConsecutiveFailures ?? DEFAULT_MAX_CONSECUTIVE_FAILURES;
  if (!key) return { blocked: false, failures: [], limit };
  const clears = parseClearBlock(runbook.metadata.annotations?.[ANNOTATIONS.clearBlock]).filter(
    (c) => c.target === '*' || c.target === key,
  );
  // An entry not yet stamped by the Runbook controller clears everything up to now.
  const clearedAt = Math.max(0, ...clears.map((c) => (c.at ?? now).getTime()));
  const mine = peers.filter(
    (p) =>
      !sameObject(p, me) &&
      sameRunbook(p, me.metadata.namespace ?? '', runbook.metadata.name ?? '') &&
      targetKeyOf(p) === key,
  );
  const attempts = mine
    .filter((p) => attemptOutcome(p) !== undefined && finishedAt(p) > clearedAt)
    .sort(newestFinishedFirst)
    .slice(0, limit);
  // The runs that came after an attempt: the other peers of this runbook and target, and me.
  const windowMs = ineffectiveWindowMs(runbook);
  const outcomes = attempts.map((p) => countedOutcome(p, [...mine, me], windowMs));
  const blocked = attempts.length >= limit && outcomes.every((o) => o === 'failed' || o === 'ineffective');
  return {
    blocked,
    failures: blocked
      ? attempts.map(
          (p, i) => `${p.metadata.name ?? ''}${outcomes[i] === 'ineffective' ? ' (ineffective)' : ''}`,
        )
      : [],
    limit,
  };
}
