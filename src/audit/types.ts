/** The audit trail: every Remediation transition, written to PostgreSQL through an outbox. */
import type { FinishResult } from '../observability/metrics.js';

export const AUDIT_EVENTS = [
  'created',
  'step_started',
  'step_finished',
  'finished',
  'approved',
  'rejected',
  'reverted',
  'blocked',
  'guard_evaluated',
  'approval_timed_out',
  'escalated',
] as const;
export type AuditEventType = (typeof AUDIT_EVENTS)[number];

export interface AuditRow {
  /** Set by the sink from its configured cluster name; undefined on rows of an unnamed cluster. */
  cluster?: string;
  at: Date;
  event: AuditEventType;
  namespace: string;
  remediation: string;
  uid?: string;
  runbook?: string;
  target?: string;
  alertname?: string;
  step?: string;
  phase?: string;
  message?: string;
  /** On the row of an end: the result counted by kube_remediator_remediations_finished_total. */
  result?: FinishResult;
  details?: Record<string, unknown>;
}

export interface AuditSink {
  /** Never throws and never blocks on the database: rows go to the outbox. */
  record(row: AuditRow): void;
  close(): Promise<void>;
  /**
   * `namespace/name` of the Remediations with rows recorded but not yet written (retention
   * keeps those, ADR 0022). Absent: nothing is ever pending (audit off).
   */
  unwritten?(): ReadonlySet<string>;
}

/** Audit turned off (no PostgreSQL configured). */
export const noopAudit: AuditSink = {
  record: () => undefined,
  close: () => Promise.resolve(),
};
