/**
 * A Runbook's steps rendered for one alert: the params resolved (from the alert, a
 * Remediation's `spec.params`, the defaults), every template rendered for the place it lands,
 * every target resolved and checked against the scope. The intake renders before it creates a
 * Remediation, so that a label value that would be refused later (`../x`, upper case, `;`) is
 * refused at once with its reason; the controller renders again when the Remediation starts,
 * because a Remediation may also be written by hand. One function, so the two cannot disagree.
 */
import { REASONS } from '../api/v1alpha1/constants.js';
import type { Param, Step, TargetRef } from '../api/v1alpha1/schema.js';
import { ERROR_CODES, RemediatorError, errorMessage, type ErrorCode } from '../util/errors.js';
import { outOfScopeMessage } from './scope.js';
import { renderStep, renderTarget, resolveParams, type AlertLike } from './template.js';

export type ResolvedTargetRef = Required<TargetRef>;

export interface RenderSource {
  /** The default namespace of targets: the Runbook's (or the Remediation's, for inline steps). */
  namespace: string;
  params?: readonly Param[];
  steps: readonly Step[];
  /** The default target of the steps. */
  target?: TargetRef;
  /** Where the steps may act (scope.ts). */
  scope: ReadonlySet<string>;
}

export interface RenderedStep {
  /** The step with every template rendered and its target resolved. */
  step: Step;
  target?: ResolvedTargetRef;
}

export interface Rendered {
  values: Record<string, string>;
  steps: RenderedStep[];
  /** The main target (the default one, else the first step's): what locks and cooldowns key on. */
  main?: ResolvedTargetRef;
}

export interface RenderFailure {
  /** The condition reason: MissingParam, InvalidSpec or OutOfScope. */
  reason: string;
  code: ErrorCode;
  message: string;
}

export function isRenderFailure(r: Rendered | RenderFailure): r is RenderFailure {
  return 'reason' in r;
}

function templateFailure(err: unknown, where: string): RenderFailure {
  const code = err instanceof RemediatorError ? err.code : ERROR_CODES.invalidParam;
  return {
    reason: code === ERROR_CODES.missingParam ? REASONS.missingParam : REASONS.invalid,
    code,
    message: `${where}: ${errorMessage(err)}`,
  };
}

export function renderSteps(
  src: RenderSource,
  alert: AlertLike | undefined,
  overrides: Record<string, string> = {},
): Rendered | RenderFailure {
  const { values, missing } = resolveParams(src.params, alert, overrides);
  if (missing.length > 0) {
    return {
      reason: REASONS.missingParam,
      code: ERROR_CODES.missingParam,
      message: `missing param: ${missing.join(', ')} (not in the alert, not in spec.params, no default)`,
    };
  }
  let main: ResolvedTargetRef | undefined;
  try {
    if (src.target) main = renderTarget(src.target, values, src.namespace);
  } catch (err) {
    return templateFailure(err, 'target');
  }
  const steps: RenderedStep[] = [];
  for (const [i, step] of src.steps.entries()) {
    try {
      const rendered = renderStep(step, values);
      const target = step.target ? renderTarget(step.target, values, src.namespace) : main;
      steps.push(target ? { step: { ...rendered, target }, target } : { step: rendered });
    } catch (err) {
      return templateFailure(err, `steps[${i}] (${step.name})`);
    }
  }
  main ??= steps.find((s) => s.target)?.target;
  const outside = [main, ...steps.map((s) => s.target)].find(
    (t): t is ResolvedTargetRef => t !== undefined && !!t.namespace && !src.scope.has(t.namespace),
  );
  if (outside) {
    return {
      reason: REASONS.outOfScope,
      code: ERROR_CODES.outOfScope,
      message: outOfScopeMessage(outside.namespace, src.scope, `${outside.kind}/${outside.name}`),
    };
  }
  return main ? { values, steps, main } : { values, steps };
}
