/** What an action returns: done, in progress, failed, or a plan refused before anything is sent. */
import type { ActionOutcome, Plan } from './types.js';
import { REASONS } from '../api/v1alpha1/constants.js';
import { ERROR_CODES, RemediatorError, type ErrorCode } from '../util/errors.js';
import type { StepOutput } from './output.js';

/** How often a waiting action asks to be looked at again. */
export const POLL_MS = 2000;

export type Failed = Extract<ActionOutcome, { kind: 'failed' }>;

export function done(
  message: string,
  extra: {
    before?: Record<string, unknown>;
    after?: Record<string, unknown>;
    diff?: Record<string, unknown>;
    output?: StepOutput;
  } = {},
): ActionOutcome {
  return { kind: 'done', message, ...extra };
}

export function inProgress(message: string, requeueAfterMs = POLL_MS, output?: StepOutput): ActionOutcome {
  return { kind: 'inProgress', message, requeueAfterMs, ...(output ? { output } : {}) };
}

export function failed(
  code: ErrorCode,
  reason: string,
  message: string,
  retryable: boolean,
  output?: StepOutput,
): Failed {
  return { kind: 'failed', code, reason, message, retryable, ...(output ? { output } : {}) };
}

export function refusal(code: ErrorCode, reason: string, message: string): Plan {
  return { refused: { code, reason, message } };
}

/**
 * What plan() does with a failed read: a permanent failure (404, invalid, forbidden) refuses
 * the step; a transient one (409, 5xx, unreachable) is thrown so the reconciler retries.
 */
export function planFailure(f: Failed): Plan {
  if (f.retryable) throw new RemediatorError(f.code, f.message);
  return refusal(f.code, f.reason, f.message);
}

/** A plan that was refused must never be applied; this guards apply against it. */
export function refusedOutcome(plan: Plan): Failed | undefined {
  const r = plan.refused;
  return r ? failed(r.code, r.reason, r.message, false) : undefined;
}

export function isFailed(x: unknown): x is Failed {
  return typeof x === 'object' && x !== null && (x as { kind?: unknown }).kind === 'failed';
}

/** A revert asked of an action that has none: refused for good (the reconciler and plan alike). */
export function notRevertible(action: { name: string }): Failed {
  return failed(
    ERROR_CODES.actionRefused,
    REASONS.revertFailed,
    `action ${action.name} cannot be reverted`,
    false,
  );
}
