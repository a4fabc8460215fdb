/** Reads the audit log back, for `kube-remediator audit`. */
import type { ClientBase } from 'pg';
import { qualified } from '../stores/pg.js';
import { AUDIT_TABLE } from './postgres.js';
import type { AuditEventType, AuditRow } from './types.js';

export interface AuditQuery {
  since: Date;
  runbook?: string;
  namespace?: string;
  remediation?: string;
  /** The newest `limit` rows of the range are returned (still oldest first). */
  limit: number;
  schema?: string;
}

export interface AuditRecord extends AuditRow {
  id: string;
}

interface DbRow {
  id: string;
  at: Date;
  event: AuditEventType;
  namespace: string;
  remediation: string;
  uid: string | null;
  runbook: string | null;
  target: string | null;
  alertname: string | null;
  step: string | null;
  phase: string | null;
  message: string | null;
  details: Record<string, unknown> | null;
}

/** Rows in the order they happened: by time, then by the order they were written. */
export async function queryAudit(db: Pick<ClientBase, 'query'>, q: AuditQuery): Promise<AuditRecord[]> {
  const where = ['at >= $1'];
  const params: unknown[] = [q.since];
  const filters: [string, string | undefined][] = [
    ['runbook', q.runbook],
    ['namespace', q.namespace],
    ['remediation', q.remediation],
  ];
  for (const [column, value] of filters) {
    if (value === undefined) continue;
    params.push(value);
    where.push(`${column} = $${params.length}`);
  }
  params.push(q.limit);
  const res = await db.query<DbRow>(
    `SELECT * FROM (
       SELECT id::text AS id, at, event, namespace, remediation, uid, runbook, target, alertname, step, phase, message, details
       FROM ${qualified(q.schema ?? 'public', AUDIT_TABLE)}
       WHERE ${where.join(' AND ')}
       ORDER BY at DESC, id DESC
       LIMIT $${params.length}) newest
     ORDER BY at, id::bigint`,
    params,
  );
  return res.rows.map((r) => {
    const out: AuditRecord = {
      id: r.id,
      at: r.at,
      event: r.event,
      namespace: r.namespace,
      remediation: r.remediation,
    };
    for (const k of ['uid', 'runbook', 'target', 'alertname', 'step', 'phase', 'message'] as const) {
      const v = r[k];
      if (v !== null) out[k] = v;
    }
    if (r.details !== null) out.details = r.details;
    return out;
  });
}
