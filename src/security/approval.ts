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
import { ANNOTATIONS } from '../api/v1alpha1/constants.js';
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
 * single-tenant mode) the annotation.
 */
export function readSignoff(
  rem: Pick<Remediation, 'metadata' | 'status'>,
  decision: Decision,
  settings: IdentitySettings | undefined,
): Signoff | undefined {
  const record = decision === 'approve' ? rem.status?.approval : rem.status?.rejection;
  if (record?.verified) return { by: record.by, verified: true, record };
  if (!annotationApprovals(settings)) return undefined;
  const by =
    rem.metadata.annotations?.[decision === 'approve' ? ANNOTATIONS.approvedBy : ANNOTATIONS.rejectedBy];
  return by ? { by, verified: false } : undefined;
}

/** How a person approves, for the waiting condition and Event. */
export function approvalHint(
  rem: Pick<Remediation, 'metadata'>,
  settings: IdentitySettings | undefined,
): { condition: string; event: string } {
  const name = rem.metadata.name ?? '';
  const ns = rem.metadata.namespace ?? '';
  const cli = `kube-remediator approve ${name} -n ${ns} (or reject)`;
  if (!annotationApprovals(settings))
    return { condition: `waiting for a verified approval: ${cli}`, event: `waiting for approval: ${cli}` };
  return {
    condition: `waiting for a person to annotate ${ANNOTATIONS.approvedBy}=<who> (or ${ANNOTATIONS.rejectedBy}=<who>), or ${cli}`,
    event: `waiting for approval: kubectl annotate remediation ${name} ${ANNOTATIONS.approvedBy}=<you>`,
  };
}

/** Why a verified decision cannot be recorded now, or undefined when it can (pure). */
export function decisionRefusal(rem: Pick<Remediation, 'status'>): string | undefined {
  const s = rem.status;
  if (s?.approval?.verified) return `already approved by ${s.approval.by}`;
  if (s?.rejection?.verified) return `already rejected by ${s.rejection.by}`;
  if ((s?.steps?.length ?? 0) > 0 && s?.steps?.some((st) => st.phase !== 'Pending'))
    return `it has started (phase ${s?.phase ?? 'Running'}): nothing to approve`;
  if (['Succeeded', 'Failed', 'Skipped', 'Blocked', 'Reverted', 'DryRun'].includes(s?.phase ?? ''))
    return `it has finished (phase ${s?.phase ?? ''})`;
  return undefined;
}
