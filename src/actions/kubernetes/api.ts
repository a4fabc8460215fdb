/**
 * Calls to the API server from actions: our field manager and stamp, errors mapped to outcomes,
 * guarded patches.
 */
import * as k8s from '@kubernetes/client-node';
import type { ActionContext } from '../types.js';
import { ANNOTATIONS } from '../../api/v1alpha1/constants.js';
import { apiErrorMessage, isUnavailable, statusCode } from '../../kube/client.js';
import { RawObjectApi, type KubeObject, type ObjectRef } from '../../kube/raw-object.js';
import { ERROR_CODES } from '../../util/errors.js';
import { failed, isFailed, type Failed } from '../outcome.js';
import { denialMessage } from '../../security/forbidden.js';

/** Shows up in managedFields, so people can see which changes were ours. */
export const FIELD_MANAGER = 'kube-remediator';

export const STAMP_ANNOTATION = ANNOTATIONS.lastAction;

export const RESTARTED_AT_ANNOTATION = 'kubectl.kubernetes.io/restartedAt';

/**
 * Maps an API error to a failure: a missing target needs a person (not retryable), while
 * conflicts, throttling, 5xx and an unreachable server pass with time.
 */
export function failureFromError(err: unknown, what: string): Failed {
  const code = statusCode(err);
  const detail = apiErrorMessage(err);
  if (code === 404) return failed(ERROR_CODES.notFound, 'NotFound', `${what} not found: ${detail}`, false);
  if (code === 409)
    return failed(ERROR_CODES.conflict, 'Conflict', `${what}: conflict, will retry: ${detail}`, true);
  if (isUnavailable(err)) {
    return failed(
      ERROR_CODES.kubeUnavailable,
      'KubeUnavailable',
      `${what}: API server unavailable: ${detail}`,
      true,
    );
  }
  // Under impersonation (identity.mode serviceAccount) a 403 names the ServiceAccount and the RBAC it lacks.
  const denial = code === 403 ? denialMessage(detail) : undefined;
  if (denial) return failed(ERROR_CODES.identityForbidden, 'Forbidden', `${what}: ${denial}`, false);
  if (code === 401 || code === 403) {
    return failed(
      ERROR_CODES.unauthorized,
      'Forbidden',
      `${what}: not allowed (check the operator's RBAC): ${detail}`,
      false,
    );
  }
  if (code === 400 || code === 422)
    return failed(ERROR_CODES.actionFailed, 'Invalid', `${what}: rejected: ${detail}`, false);
  return failed(ERROR_CODES.actionFailed, 'ActionFailed', `${what}: ${detail}`, false);
}

/** Runs an API call and turns a thrown error into a failure. */
export async function attempt<T>(what: string, fn: () => Promise<T>): Promise<T | Failed> {
  try {
    return await fn();
  } catch (err) {
    return failureFromError(err, what);
  }
}

/**
 * A guarded write that lost a race: a conflict (409) or a JSON patch whose `test` no longer
 * holds (422). Worth reading the target again before deciding.
 */
export function lostRace(f: Failed): boolean {
  return f.reason === 'Conflict' || f.reason === 'Invalid';
}

/** The refusal of a revert whose target changed after the step (compare-and-swap failed). */
export function changedSince(what: string): Failed {
  return failed(ERROR_CODES.actionRefused, 'ChangedSince', what, false);
}

export function raw(ctx: ActionContext): RawObjectApi {
  return RawObjectApi.forConfig(ctx.clients.kc);
}

/** How many times a compare-and-swap revert reads the target again after losing a race. */
export const REVERT_TRIES = 3;

/**
 * Sends a revert's guarded JSON patch (its `test` ops hold the values just read). `'retry'`
 * when the target changed after the read and try `n` may look again; otherwise the patched
 * object or the failure.
 */
export async function guardedJsonPatch(
  ctx: ActionContext,
  ref: ObjectRef,
  ops: unknown[],
  what: string,
  n: number,
): Promise<KubeObject | Failed | 'retry'> {
  const res = await attempt(what, () =>
    raw(ctx).patchRaw(ref, ops, {
      contentType: k8s.PatchStrategy.JsonPatch,
      dryRun: ctx.dryRun,
      fieldManager: FIELD_MANAGER,
    }),
  );
  // A failed `test` (422) or a conflict: the object changed after the read; look again.
  if (isFailed(res) && lostRace(res) && n < REVERT_TRIES) return 'retry';
  return res;
}
