/**
 * The moments the dashboard measures, read from one status transition: the Remediation
 * started, took its first action, or reached its end. Like finishResult, read after the
 * status write that made the transition, so a repeated pass or a standby counts nothing.
 */
import type { RemediationStatus } from '../../api/v1alpha1/schema.js';
import type { FinishResult } from '../../observability/metrics.js';

export interface Milestones {
  /** Past approval and the budgets: startedAt was set by this transition. */
  started: boolean;
  /** The first step was checkpointed as started by this transition. */
  firstAction: boolean;
}

export function milestones(prior: RemediationStatus | undefined, next: RemediationStatus): Milestones {
  return {
    started: !prior?.startedAt && !!next.startedAt,
    firstAction: !anyStepStarted(prior) && anyStepStarted(next),
  };
}

/** The first end of a Remediation, as opposed to a revert of it later. */
export function isFirstEnd(result: FinishResult): boolean {
  return result !== 'reverted' && result !== 'revert_failed';
}

/** Seconds from the alert's start to `now`; undefined without an alert (a Remediation made by hand). */
export function secondsSinceAlert(startsAt: string | undefined, now: Date): number | undefined {
  if (!startsAt) return undefined;
  const t = Date.parse(startsAt);
  if (Number.isNaN(t)) return undefined;
  // Prometheus's clock may run ahead of ours by a little: never a negative latency.
  return Math.max(0, (now.getTime() - t) / 1000);
}

function anyStepStarted(status: RemediationStatus | undefined): boolean {
  return (status?.steps ?? []).some((s) => s.startedAt !== undefined);
}
