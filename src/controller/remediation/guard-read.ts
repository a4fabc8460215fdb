/**
 * The side of a guard operation: its checks evaluated in order through evaluateCheck (the same
 * reads as the check actions), up to the first that is not Met. Read-only, so it needs no
 * checkpoint; what it read becomes the guard's record (guards.ts).
 */
import type { Check, GuardRecord } from '../../api/v1alpha1/schema.js';
import { evaluateCheck, type CheckContext, type CheckEvaluation } from '../../actions/checks/evaluate.js';
import { rfc3339 } from '../../util/clock.js';

/** One evaluation of one Check (evaluateCheck; a test may pass its own). */
export type CheckEvaluator = (check: Check, ctx: CheckContext) => Promise<CheckEvaluation>;

export const defaultEvaluator: CheckEvaluator = (check, ctx) => evaluateCheck(check, ctx);

const MESSAGE_CHARS = 4000;

export async function readGuard(
  checks: readonly Check[],
  ctx: CheckContext,
  evaluate: CheckEvaluator,
  now: () => Date,
): Promise<GuardRecord> {
  const out: GuardRecord['checks'] = [];
  for (const check of checks) {
    const e = await evaluate(check, ctx);
    out.push({ name: check.name, result: e.result, message: e.message.slice(0, MESSAGE_CHARS) });
    if (e.result !== 'Met') return { result: e.result, at: rfc3339(now()), checks: out };
  }
  return { result: 'Met', at: rfc3339(now()), checks: out };
}

/** The record of a guard that could not be read at all (e.g. a param it uses has no value). */
export function unreadable(message: string, now: Date): GuardRecord {
  return {
    result: 'Error',
    at: rfc3339(now),
    checks: [{ name: 'guard', result: 'Error', message: message.slice(0, MESSAGE_CHARS) }],
  };
}
