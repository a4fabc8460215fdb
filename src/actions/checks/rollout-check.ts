/**
 * The `rollout` member of a Check: a read of the step's target ("did it roll out within
 * `changedWithin`, and is that rollout not ready?"). Its evaluation is built with the guards
 * (issue #12, the guards part); until it lands a rollout check evaluates to Error, which a
 * guard's `onError` handles, and says why.
 */
import type { RolloutCheckParams } from '../../api/v1alpha1/schema.js';
import { ERROR_CODES, errorMessage } from '../../util/errors.js';
import { parseDuration } from '../../util/duration.js';
import { failed } from '../outcome.js';
import { broken, type CheckContext, type ReadOptions, type Reading } from './reading.js';

/** The parameters' problems, as `rollout.<field>: ...`. */
export function rolloutCheckProblems(p: RolloutCheckParams): string[] {
  try {
    if (parseDuration(p.changedWithin) <= 0) return ['rollout.changedWithin: must be longer than 0'];
  } catch (err) {
    return [`rollout.changedWithin: ${errorMessage(err)}`];
  }
  return [];
}

export function readRollout(
  _ctx: CheckContext,
  _p: RolloutCheckParams,
  _opts: ReadOptions,
): Promise<Reading> {
  return Promise.resolve(
    broken(
      failed(
        ERROR_CODES.invalidSpec,
        'NotAvailable',
        'rollout checks are not available in this build of the operator',
        false,
      ),
    ),
  );
}
