/** The audit trail: every Remediation transition, written to PostgreSQL through an outbox. */
export const AUDIT_EVENTS = [
  'created',
  'step_started',
  'step_finished',
  'finished',
  'approved',
  'rejected',
  'reverted',
  'blocked',
] as const;
export type AuditEventType = (typeof AUDIT_EVENTS)[number];

export interface AuditRow {
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
  details?: Record<string, unknown>;
}

export interface AuditSink {
  /** Never throws and never blocks on the database: rows go to the outbox. */
  record(row: AuditRow): void;
  close(): Promise<void>;
}

/** Audit turned off (no PostgreSQL configured). */
export const noopAudit: AuditSink = {
  record: () => undefined,
  close: () => Promise.resolve(),
};
