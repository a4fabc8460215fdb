/**
 * metav1.Condition helpers with the API conventions: one condition per type, and
 * `lastTransitionTime` moves only when `status` flips (a new reason or message alone is not a
 * transition), so `kubectl describe` tells how long a state has really lasted.
 */
import type { Condition } from './schema.js';
import { rfc3339 } from '../../util/clock.js';

export type ConditionStatus = Condition['status'];

export interface ConditionInput {
  type: string;
  status: ConditionStatus;
  reason: string;
  message: string;
}

export function findCondition(
  conditions: readonly Condition[] | undefined,
  type: string,
): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}

export function isConditionTrue(conditions: readonly Condition[] | undefined, type: string): boolean {
  return findCondition(conditions, type)?.status === 'True';
}

/**
 * Returns a new list with `input` set. The time of the last transition is kept unless the
 * status changes; `observedGeneration` records the generation the condition was computed for.
 */
export function setCondition(
  conditions: readonly Condition[] | undefined,
  input: ConditionInput,
  now: Date,
  observedGeneration?: number,
): Condition[] {
  const list = [...(conditions ?? [])];
  const i = list.findIndex((c) => c.type === input.type);
  const prior = i >= 0 ? list[i] : undefined;
  const next: Condition = {
    type: input.type,
    status: input.status,
    reason: input.reason,
    // The CRD caps messages; an over-long one would make the whole status write fail.
    message: input.message.slice(0, MAX_CONDITION_MESSAGE),
    lastTransitionTime: prior && prior.status === input.status ? prior.lastTransitionTime : rfc3339(now),
    ...(observedGeneration !== undefined ? { observedGeneration } : {}),
  };
  if (i >= 0) list[i] = next;
  else list.push(next);
  return list;
}

const MAX_CONDITION_MESSAGE = 32_000;

/** True when the condition is new or its status or reason differs: the moment to emit an Event. */
export function conditionChanged(
  before: readonly Condition[] | undefined,
  after: readonly Condition[] | undefined,
  type: string,
): boolean {
  const a = findCondition(before, type);
  const b = findCondition(after, type);
  if (!b) return false;
  return !a || a.status !== b.status || a.reason !== b.reason;
}
