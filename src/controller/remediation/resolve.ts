/**
 * Copying the steps at start: the Runbook's steps (or the Remediation's inline `spec.steps`)
 * rendered with the params, each with its target resolved and checked against the scope.
 * Anything refused here is refused before a single request reaches the API server.
 */
import { REASONS } from '../../api/v1alpha1/constants.js';
import type {
  Bounds,
  Remediation,
  Runbook,
  Safety,
  Step,
  StepStatus,
  TargetRef,
} from '../../api/v1alpha1/schema.js';
import type { ResolvedTarget } from '../../actions/types.js';
import { renderStep, renderTarget, resolveParams } from '../../runbook/template.js';
import { ERROR_CODES, RemediatorError, errorMessage } from '../../util/errors.js';
import { displayTarget, targetKey } from './policy.js';

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

/**
 * Namespaces the steps may act in: the Runbook's own plus `safety.allowedNamespaces`. Inline
 * steps may act only in the Remediation's namespace, because whoever may create a
 * Remediation must not reach further through the operator than their own namespace.
 */
export function scopeOf(rem: Remediation, runbook: Runbook | undefined): Set<string> {
  const own = rem.metadata.namespace ?? '';
  if (!rem.spec.runbookRef) return new Set([own]);
  return new Set([runbook?.metadata.namespace ?? own, ...(runbook?.spec.safety?.allowedNamespaces ?? [])]);
}

function templateFailure(err: unknown, where: string): ResolveFailure {
  const missing = err instanceof RemediatorError && err.code === ERROR_CODES.missingParam;
  return {
    reason: missing ? REASONS.missingParam : REASONS.invalid,
    message: `${where}: ${errorMessage(err)}`,
  };
}

export function resolveSteps(rem: Remediation, runbook: Runbook | undefined): Resolved | ResolveFailure {
  const ns = rem.metadata.namespace ?? '';
  const source: readonly Step[] | undefined = rem.spec.runbookRef ? runbook?.spec.steps : rem.spec.steps;
  if (!source || source.length === 0) {
    return {
      reason: REASONS.invalid,
      message: 'no steps: set spec.runbookRef to a Runbook with steps, or spec.steps',
    };
  }
  const { values, missing } = resolveParams(runbook?.spec.params, rem.spec.alert, rem.spec.params ?? {});
  if (missing.length > 0) {
    return {
      reason: REASONS.missingParam,
      message: `missing param: ${missing.join(', ')} (not in the alert, not in spec.params, no default)`,
    };
  }
  const scope = scopeOf(rem, runbook);
  const defaultRef: TargetRef | undefined = rem.spec.target ?? runbook?.spec.target;

  let main: ResolvedTarget | undefined;
  try {
    if (defaultRef) main = renderTarget(defaultRef, values, ns);
  } catch (err) {
    return templateFailure(err, 'target');
  }

  const steps: StepStatus[] = [];
  for (const [i, step] of source.entries()) {
    let spec: Step;
    let target: ResolvedTarget | undefined;
    try {
      spec = renderStep(step, values);
      target = step.target ? renderTarget(step.target, values, ns) : main;
    } catch (err) {
      return templateFailure(err, `steps[${i}] (${step.name})`);
    }
    if (target) spec = { ...spec, target };
    steps.push({
      name: step.name,
      action: step.action,
      phase: 'Pending',
      ...(target ? { target: targetKey(target) } : {}),
      spec: spec,
    });
  }
  main ??= steps
    .map((s) => (s.spec as Step | undefined)?.target)
    .find((t): t is Required<TargetRef> => t !== undefined);

  const all = [main, ...steps.map((s) => (s.spec as Step | undefined)?.target)].filter(
    (t): t is ResolvedTarget => !!t?.namespace,
  );
  const outside = all.find((t) => !scope.has(t.namespace));
  if (outside) {
    return {
      reason: REASONS.outOfScope,
      message: `namespace "${outside.namespace}" of ${outside.kind}/${outside.name} is outside the runbook's scope (${[...scope].join(', ')}): add it to safety.allowedNamespaces`,
    };
  }
  return main ? { steps, target: main } : { steps };
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

export { displayTarget };
