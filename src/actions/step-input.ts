/**
 * What a step hands its action: the target and the parameter member named after the action.
 */
import type { ActionContext, ResolvedTarget } from './types.js';
import type { Step } from '../api/v1alpha1/schema.js';
import { ERROR_CODES } from '../util/errors.js';
import { failed, type Failed } from './outcome.js';

export function describeTarget(t: ResolvedTarget): string {
  return `${t.kind}/${t.namespace}/${t.name}`;
}

export function requireTarget(ctx: ActionContext): ResolvedTarget | Failed {
  return (
    ctx.target ??
    failed(
      ERROR_CODES.invalidSpec,
      'MissingTarget',
      `step "${ctx.step.name}" (${ctx.step.action}) needs a target`,
      false,
    )
  );
}

/** The parameter member named after the action, or a failure naming it. */
export function requireParams<K extends keyof Step>(
  ctx: ActionContext,
  key: K,
): NonNullable<Step[K]> | Failed {
  const p = ctx.step[key];
  if (p === undefined || p === null) {
    return failed(
      ERROR_CODES.invalidSpec,
      'MissingParams',
      `step "${ctx.step.name}": ${String(key)} parameters are missing`,
      false,
    );
  }
  return p;
}

export function validateParamsPresent(step: Step, key: keyof Step): string[] {
  return step[key] === undefined ? [`${String(key)}: parameters are required for action ${step.action}`] : [];
}
