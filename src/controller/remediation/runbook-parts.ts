/**
 * Rendering the Runbook-level parts that are not steps (its `guard`, its `escalation` notify
 * params) with the params, by the same rule as the steps (renderStep): one rule, one home.
 */
import type { Remediation, Runbook, Step } from '../../api/v1alpha1/schema.js';
import { renderStep, resolveParams } from '../../runbook/template.js';
import { errorMessage } from '../../util/errors.js';

/** `part` rendered as a step's members would be, or why it cannot be. */
export function renderPart<K extends keyof Step>(
  rem: Remediation,
  runbook: Runbook | undefined,
  key: K,
  part: NonNullable<Step[K]>,
): { value: NonNullable<Step[K]> } | { error: string } {
  const { values, missing } = resolveParams(runbook?.spec.params, rem.spec.alert, rem.spec.params ?? {});
  if (missing.length > 0) return { error: `missing param: ${missing.join(', ')}` };
  try {
    const step = { name: 'part', action: 'notify', [key]: part } as unknown as Step;
    return { value: renderStep(step, values)[key] as NonNullable<Step[K]> };
  } catch (err) {
    return { error: errorMessage(err) };
  }
}
