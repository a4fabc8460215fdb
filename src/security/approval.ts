/**
 * Who approved or rejected a Remediation: the one place the gates read it (ADR 0023).
 *
 * A verified signoff is written into `status.approval` / `status.rejection` with
 * `verified: true` by the operator's approval endpoint, after a TokenReview of the caller's
 * token and a SubjectAccessReview for verb `approve` on `remediations` (approval-endpoint.ts):
 * only the operator (and whoever may write `remediations/status`, which no team should) can
 * write it. The annotations `approved-by` / `rejected-by` are free text that anyone who may
 * annotate writes, so they count only in single-tenant mode.
 */
import { ANNOTATIONS, stepApprovalAnnotation } from '../api/v1alpha1/constants.js';
import type { Remediation, RemediationStatus } from '../api/v1alpha1/schema.js';
import { SINGLE_TENANT, type IdentitySettings } from './identity.js';

export type Decision = 'approve' | 'reject';

export type SignoffRecord = NonNullable<RemediationStatus['approval']>;

/** A decision the gates may act on: who, and whether the operator verified it. */
export interface Signoff {
  by: string;
  verified: boolean;
  /** The verified record to keep in status as it is; absent for an annotation. */
  record?: SignoffRecord;
}

/** Whether annotations count as approvals (single-tenant mode only). */
export function annotationApprovals(settings: IdentitySettings | undefined): boolean {
  return (settings ?? SINGLE_TENANT).mode === 'operator';
}

/**
 * The approval or rejection the gates act on: a verified one in the status first, else (in
 * single-tenant mode) the annotation. With `step`, the approval of that one step
 * (`steps[].requireApproval`): a verified `status.stepApprovals` entry, else the annotation
 * `approved-by.kube-remediator.io/<step>` in single-tenant mode. A rejection is of the run,
 * whatever waits.
 */
export function readSignoff(
  rem: Pick<Remediation, 'metadata' | 'status'>,
  decision: Decision,
  settings: IdentitySettings | undefined,
  step?: string,
): Signoff | undefined {
  const forStep = decision === 'approve' && step !== undefined;
  const record = forStep
    ? rem.status?.stepApprovals?.find((a) => a.step === step)
    : decision === 'approve'
      ? rem.status?.approval
      : rem.status?.rejection;
  if (record?.verified) return { by: record.by, verified: true, record: signoffRecord(record) };
  if (!annotationApprovals(settings)) return undefined;
  const key = forStep
    ? stepApprovalAnnotation(step)
    : decision === 'approve'
      ? ANNOTATIONS.approvedBy
      : ANNOTATIONS.rejectedBy;
  const by = rem.metadata.annotations?.[key]?.trim();
  return by ? { by, verified: false } : undefined;
}

/** The run-level shape of a record (a step's record without its `step`). */
function signoffRecord(r: SignoffRecord & { step?: string }): SignoffRecord {
  const { step: _step, ...rest } = r;
  return rest;
}

/**
 * Who created the Remediation: the `created-by` annotation, which the chart's
 * ValidatingAdmissionPolicy (rendered with `approvals.fourEyes`) lets a person set only to their
 * own user name, and never change. Absent: the intake made it for an alert (the policy admits a
 * Remediation without it only from the operator's ServiceAccount).
 */
export function creatorOf(rem: Pick<Remediation, 'metadata'>): string | undefined {
  const by = rem.metadata.annotations?.[ANNOTATIONS.createdBy]?.trim();
  return by ? by : undefined;
}

/**
 * Four eyes: why `approver` may not approve this Remediation, or undefined when they may (or
 * four eyes is off). Only approvals: the creator may always reject their own.
 */
export function fourEyesRefusal(
  rem: Pick<Remediation, 'metadata'>,
  approver: string,
  fourEyes: boolean | undefined,
): string | undefined {
  if (!fourEyes) return undefined;
  const creator = creatorOf(rem);
  if (creator === undefined || creator !== approver) return undefined;
  return `approval by ${approver} refused: they created this Remediation, and four eyes (approvals.fourEyes) needs another person`;
}

/** How a person approves the run (or, with `step`, one step), for the waiting condition and Event. */
export function approvalHint(
  rem: Pick<Remediation, 'metadata'>,
  settings: IdentitySettings | undefined,
  step?: string,
): { condition: string; event: string } {
  const name = rem.metadata.name ?? '';
  const ns = rem.metadata.namespace ?? '';
  const stepFlag = step === undefined ? '' : ` --step ${step}`;
  const cli = `kube-remediator approve ${name} -n ${ns}${stepFlag} (or reject)`;
  if (!annotationApprovals(settings))
    return { condition: `waiting for a verified approval: ${cli}`, event: `waiting for approval: ${cli}` };
  const key = step === undefined ? ANNOTATIONS.approvedBy : stepApprovalAnnotation(step);
  return {
    condition: `waiting for a person to annotate ${key}=<who> (or ${ANNOTATIONS.rejectedBy}=<who>), or ${cli}`,
    event: `waiting for approval: kubectl annotate remediation ${name} ${key}=<you>`,
  };
}

const FINAL_PHASES = ['Succeeded', 'Failed', 'Skipped', 'Blocked', 'Reverted', 'DryRun'];

/**
 * Why a verified decision cannot be recorded now, or undefined when it can (pure). The run is
 * approved before it starts; a step (`step`) while it has not run yet, so it may be approved
 * ahead of its wait, as its annotation may. A rejection is taken before the start, and while a
 * step waits for approval (it ends the run there, as the annotation does).
 */
export function decisionRefusal(
  rem: Pick<Remediation, 'status'>,
  decision: Decision = 'approve',
  step?: string,
): string | undefined {
  const s = rem.status;
  if (s?.rejection?.verified) return `already rejected by ${s.rejection.by}`;
  if (FINAL_PHASES.includes(s?.phase ?? '')) return `it has finished (phase ${s?.phase ?? ''})`;
  if (decision === 'approve' && step !== undefined) return stepRefusal(s, step);
  if (decision === 'reject' && s?.awaitingApproval?.step !== undefined) return undefined;
  if (s?.approval?.verified) return `already approved by ${s.approval.by}`;
  if ((s?.steps?.length ?? 0) > 0 && s?.steps?.some((st) => st.phase !== 'Pending'))
    return `it has started (phase ${s?.phase ?? 'Running'}): nothing to approve`;
  return undefined;
}

function stepRefusal(s: Remediation['status'], step: string): string | undefined {
  const done = s?.stepApprovals?.find((a) => a.step === step && a.verified);
  if (done) return `step ${step} is already approved by ${done.by}`;
  const rec = s?.steps?.find((st) => st.name === step);
  if (!rec) return `it has no step ${step} (yet: the steps are copied when the run starts)`;
  const spec = rec.spec as { requireApproval?: unknown } | undefined;
  if (!spec?.requireApproval) return `step ${step} does not ask for approval (steps[].requireApproval)`;
  if (rec.approval?.outcome) return `step ${step}'s wait has ended (${rec.approval.outcome})`;
  if (rec.phase !== 'Pending') return `step ${step} has started (phase ${rec.phase}): nothing to approve`;
  return undefined;
}
