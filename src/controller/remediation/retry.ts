/**
 * The one retry rule of step attempts and reverts: a retryable failure is tried again after an
 * exponential backoff while attempts remain; otherwise the attempt fails for good.
 */
import { rfc3339 } from '../../util/clock.js';
import { parseDuration } from '../../util/duration.js';
import type { StepStatus } from '../../api/v1alpha1/schema.js';
import type { DecideConfig, StepFailure } from './decision.js';
import { stepSpec } from './resolve.js';
import { holdTimeoutMs } from '../../actions/checks/hold.js';

/** First retry delay of a failed attempt; doubled per attempt up to STEP_RETRY_MAX_MS. */
export const STEP_RETRY_BASE_MS = 5_000;
export const STEP_RETRY_MAX_MS = 300_000;
/** A revert that fails retryably is tried this many times in all (same backoff as steps). */
export const REVERT_MAX_ATTEMPTS = 5;

export function retryDelayMs(failedAttempt: number): number {
  return Math.min(STEP_RETRY_MAX_MS, STEP_RETRY_BASE_MS * 2 ** Math.max(0, failedAttempt - 1));
}

export type RetryVerdict =
  /** Try again at `at` (in `delayMs`); `message` says so. */
  | { retry: true; delayMs: number; at: string; message: string }
  /** Given up: `message` is the failure, with the attempts it took when there were several. */
  | { retry: false; message: string; attempts: number };

/**
 * `what` names the attempt in messages (`attempt`, `revert attempt`); `attempt` is the one that
 * failed, `maxAttempts` how many there may be in all.
 */
export function retryOrGiveUp(
  what: string,
  attempt: number,
  maxAttempts: number,
  failure: Pick<StepFailure, 'message' | 'retryable'>,
  now: Date,
): RetryVerdict {
  if (failure.retryable && attempt < maxAttempts) {
    const delayMs = retryDelayMs(attempt);
    const at = rfc3339(new Date(now.getTime() + delayMs));
    return {
      retry: true,
      delayMs,
      at,
      message: `${what} ${attempt} of ${maxAttempts} failed: ${failure.message}; next attempt at ${at}`,
    };
  }
  return {
    retry: false,
    attempts: attempt,
    message: attempt > 1 ? `failed after ${attempt} attempts: ${failure.message}` : failure.message,
  };
}

/** Attempts a step may make in all: the first and `retries` more. */
export function stepMaxAttempts(rec: StepStatus): number {
  return 1 + (stepSpec(rec)?.retries ?? 0);
}

export function stepTimeoutMs(rec: StepStatus, cfg: DecideConfig): number {
  const spec = stepSpec(rec);
  const t = spec?.timeout;
  // A hold lasts its duration: without a timeout of its own, the default would cut it short.
  return t ? parseDuration(t) : ((spec && holdTimeoutMs(spec)) ?? cfg.defaultStepTimeoutMs);
}
