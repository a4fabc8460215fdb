/**
 * One look of a check, before it is a step outcome or a guard's verdict. The check actions
 * (steps, which poll) and evaluateCheck (guards and holds, which look once) both read through
 * the same functions and differ only in what they make of a Reading: see stepOutcome here and
 * evaluation in evaluate.ts.
 */
import type { ActionContext, ActionOutcome } from '../types.js';
import type { NoDataMeaning } from '../../api/v1alpha1/schema.js';
import type { StepOutput } from '../output.js';
import { done, failed, inProgress, type Failed } from '../outcome.js';
import { ERROR_CODES } from '../../util/errors.js';
import { CHECK_POLL_MS, EXTERNAL_TIMEOUT_MS } from '../services/replies.js';

/** What a check needs to look: Secrets for `urlFrom`, the cluster and the target for target reads. */
export type CheckContext = Pick<ActionContext, 'clients' | 'readSecret'> &
  Partial<Pick<ActionContext, 'target' | 'log' | 'clock'>>;

export interface ReadOptions {
  /** The deadline of each request of the look. */
  timeoutMs: number;
  /** What no data means when the check does not say (prometheusQuery.noData). */
  noData: NoDataMeaning;
}

/** Steps: a look waits up to the service deadline, and no data means "not yet". */
export const STEP_READ: ReadOptions = { timeoutMs: EXTERNAL_TIMEOUT_MS, noData: 'Wait' };

export type Reading =
  | { result: 'Met'; message: string; output?: StepOutput }
  | {
      result: 'NotMet';
      message: string;
      output?: StepOutput;
      /** Looking again will not change it (noData: Fail): a step fails now instead of polling. */
      settled?: { reason: string };
    }
  | {
      result: 'Error';
      message: string;
      output?: StepOutput;
      /**
       * The check cannot work as written (a rejected query, a write command, a Secret that
       * cannot be read): a step fails with this. Absent: a passing trouble (unreachable,
       * 5xx), which a step polls through until its timeout.
       */
      failure?: Failed;
    };

export function met(message: string, output?: StepOutput): Reading {
  return { result: 'Met', message, ...(output ? { output } : {}) };
}

/** `settledReason`: looking again will not change it; a step fails now with that reason. */
export function notMet(message: string, output?: StepOutput, settledReason?: string): Reading {
  return {
    result: 'NotMet',
    message,
    ...(output ? { output } : {}),
    ...(settledReason ? { settled: { reason: settledReason } } : {}),
  };
}

/** A passing trouble: the service did not answer as a service should. */
export function troubled(message: string): Reading {
  return { result: 'Error', message };
}

/** The check cannot work as written: polling will not help. */
export function broken(failure: Failed): Reading {
  return { result: 'Error', message: failure.message, failure };
}

/** What a check step makes of one look: done, keep polling, or fail. */
export function stepOutcome(r: Reading): ActionOutcome {
  switch (r.result) {
    case 'Met':
      return done(r.message, r.output ? { output: r.output } : {});
    case 'NotMet':
      // A check that says "fail" is a verdict: `retries` may look again later, polling does not.
      return r.settled
        ? failed(ERROR_CODES.actionFailed, r.settled.reason, r.message, true, r.output)
        : inProgress(r.message, CHECK_POLL_MS, r.output);
    case 'Error':
      return r.failure
        ? { ...r.failure, ...(r.output ? { output: r.output } : {}) }
        : inProgress(r.message, CHECK_POLL_MS, r.output);
  }
}
