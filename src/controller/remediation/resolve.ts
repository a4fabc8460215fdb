/**
 * Copying the steps at start: the Runbook's steps (or the Remediation's inline `spec.steps`)
 * rendered with the params, each with its target resolved and checked against the scope.
 * Anything refused here is refused before a single request reaches the API server.
 */
import { REASONS } from '../../api/v1alpha1/constants.js';
import type { Bounds, Remediation, Runbook, Safety, Step, StepStatus } from '../../api/v1alpha1/schema.js';
import type { ResolvedTarget } from '../../actions/types.js';
import { isRenderFailure, renderSteps } from '../../runbook/render.js';
import { remediationScope } from '../../runbook/scope.js';
import { targetKey } from '../../runbook/target.js';

export interface Resolved {
  steps: StepStatus[];
  /** The main target: what the lock, loop protection and `status.target` refer to. */
  target?: ResolvedTarget;
}

export interface ResolveFailure {
  reason: string;
  message: string;
}

/**
 * Safety rules in force. With a Runbook, only the Runbook's rules count: a Remediation must
 * not loosen them (e.g. drop requireApproval). Inline steps use the Remediation's own rules.
 *
 * The bounds are the copy in `status.bounds` once the steps are copied: the steps were
 * rendered under them, and a Runbook (or `spec.safety`) edited or deleted mid-run must not
 * loosen or drop them for the steps still to come. Runs whose steps were copied before that
 * field existed have no copy and keep the current bounds.
 */
export function effectiveSafety(rem: Remediation, runbook: Runbook | undefined): Safety | undefined {
  const current = rem.spec.runbookRef ? runbook?.spec.safety : rem.spec.safety;
  const copied = rem.status?.bounds;
  if (!copied) return current;
  const safety: Safety = { ...current };
  delete safety.bounds;
  // `{}` records "no bounds at start", which stays so even if the Runbook gains some later.
  if (Object.keys(copied).length > 0) safety.bounds = copied;
  return safety;
}

/** What decide() copies into `status.bounds` with the steps; `{}` means "none". */
export function boundsToCopy(rem: Remediation, runbook: Runbook | undefined): Bounds {
  return structuredClone(effectiveSafety(rem, runbook)?.bounds ?? {});
}

export function resolveSteps(rem: Remediation, runbook: Runbook | undefined): Resolved | ResolveFailure {
  const source: readonly Step[] | undefined = rem.spec.runbookRef ? runbook?.spec.steps : rem.spec.steps;
  if (!source || source.length === 0) {
    return {
      reason: REASONS.invalid,
      message: 'no steps: set spec.runbookRef to a Runbook with steps, or spec.steps',
    };
  }
  const r = renderSteps(
    {
      namespace: rem.metadata.namespace ?? '',
      params: runbook?.spec.params,
      steps: source,
      target: rem.spec.target ?? runbook?.spec.target,
      scope: remediationScope(rem, runbook),
    },
    rem.spec.alert,
    rem.spec.params ?? {},
  );
  if (isRenderFailure(r)) return { reason: r.reason, message: r.message };
  const steps: StepStatus[] = r.steps.map(({ step, target }) => ({
    name: step.name,
    action: step.action,
    phase: 'Pending',
    ...(target ? { target: targetKey(target) } : {}),
    spec: step,
  }));
  return r.main ? { steps, target: r.main } : { steps };
}

export function isResolveFailure(r: Resolved | ResolveFailure): r is ResolveFailure {
  return 'reason' in r;
}

/** The rendered step stored at start. */
export function stepSpec(rec: StepStatus): Step {
  return rec.spec as unknown as Step;
}

export function stepTarget(rec: StepStatus): ResolvedTarget | undefined {
  const t = stepSpec(rec)?.target;
  return t?.namespace
    ? { apiVersion: t.apiVersion, kind: t.kind, name: t.name, namespace: t.namespace }
    : undefined;
}
