/**
 * Copying the steps at start: the Runbook's steps (or the Remediation's inline `spec.steps`)
 * rendered with the params, each with its target resolved and checked against the scope.
 * Anything refused here is refused before a single request reaches the API server.
 */
import { REASONS } from '../../api/v1alpha1/constants.js';
import {
  REVERT_GATE_STEP,
  type Bounds,
  type OnResolve,
  type Remediation,
  type Runbook,
  type Safety,
  type Step,
  type StepStage,
  type StepStatus,
} from '../../api/v1alpha1/schema.js';
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
  const own: readonly Step[] | undefined = rem.spec.runbookRef ? runbook?.spec.steps : rem.spec.steps;
  if (!own || own.length === 0) {
    return {
      reason: REASONS.invalid,
      message: 'no steps: set spec.runbookRef to a Runbook with steps, or spec.steps',
    };
  }
  // The work after resolve is copied now too, rendered with the same params: the Runbook
  // may change (or go) before the alert resolves.
  const staged = rem.spec.runbookRef ? stagedSteps(runbook?.spec.onResolve) : [];
  const r = renderSteps(
    {
      namespace: rem.metadata.namespace ?? '',
      params: runbook?.spec.params,
      steps: [...own, ...staged.map((x) => x.step)],
      target: rem.spec.target ?? runbook?.spec.target,
      scope: remediationScope(rem, runbook),
    },
    rem.spec.alert,
    rem.spec.params ?? {},
  );
  if (isRenderFailure(r)) return { reason: r.reason, message: r.message };
  const steps: StepStatus[] = r.steps.map(({ step, target }, i) => {
    const stage = staged[i - own.length]?.stage;
    return {
      name: step.name,
      action: step.action,
      phase: 'Pending',
      ...(target ? { target: targetKey(target) } : {}),
      ...(stage ? { stage } : {}),
      spec: step,
    };
  });
  return r.main ? { steps, target: r.main } : { steps };
}

/**
 * A Runbook's `onResolve` as steps, in the order they run: `before`, the gate (a `waitUntil`
 * step named `revert-gate` whose timeout is the gate's), `after`.
 */
export function stagedSteps(r: OnResolve | undefined): { stage: StepStage; step: Step }[] {
  if (!r) return [];
  const gate: Step[] = r.gate
    ? [
        {
          name: REVERT_GATE_STEP,
          action: 'waitUntil',
          timeout: r.gate.timeout,
          // onTimeout Revert: the gate failing (timing out) does not stop the revert.
          ...(r.gate.onTimeout === 'Revert' ? { continueOnFailure: true } : {}),
          waitUntil: { checks: r.gate.checks, ...(r.gate.interval ? { interval: r.gate.interval } : {}) },
        },
      ]
    : [];
  return [
    ...(r.before ?? []).map((step) => ({ stage: 'BeforeRevert' as const, step })),
    ...gate.map((step) => ({ stage: 'RevertGate' as const, step })),
    ...(r.after ?? []).map((step) => ({ stage: 'AfterRevert' as const, step })),
  ];
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
