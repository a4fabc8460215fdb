/** Reads the audit log back, for `kube-remediator audit`. */
import type { ClientBase } from 'pg';
import { qualified } from '../db/pg.js';
import { AUDIT_TABLE } from './schema.js';
import type { FinishResult } from '../observability/metrics.js';
import type { AuditEventType, AuditRow } from './types.js';

export interface AuditQuery {
  since: Date;
  /** Only rows of this cluster; undefined: every cluster. */
  cluster?: string;
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
  cluster: string | null;
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
  result: FinishResult | null;
  details: Record<string, unknown> | null;
}

/** Rows in the order they happened: by time, then by the order they were written. */
export async function queryAudit(db: Pick<ClientBase, 'query'>, q: AuditQuery): Promise<AuditRecord[]> {
  const { where, params } = filtersOf(q);
  params.push(q.limit);
  const res = await db.query<DbRow>(
    `SELECT * FROM (
       SELECT id::text AS id, cluster, at, event, namespace, remediation, uid, runbook, target, alertname, step, phase,
              message, result, details
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
    for (const k of [
      'cluster',
      'uid',
      'runbook',
      'target',
      'alertname',
      'step',
      'phase',
      'message',
    ] as const) {
      const v = r[k];
      if (v !== null) out[k] = v;
    }
    if (r.result !== null) out.result = r.result;
    if (r.details !== null) out.details = r.details;
    return out;
  });
}

/** The WHERE clause of a query's filters, with its parameters ($1 is the start of the range). */
function filtersOf(q: Omit<AuditQuery, 'limit' | 'schema'>): { where: string[]; params: unknown[] } {
  const where = ['at >= $1'];
  const params: unknown[] = [q.since];
  const filters: [string, string | undefined][] = [
    ['cluster', q.cluster],
    ['runbook', q.runbook],
    ['namespace', q.namespace],
    ['remediation', q.remediation],
  ];
  for (const [column, value] of filters) {
    if (value === undefined) continue;
    params.push(value);
    where.push(`${column} = $${params.length}`);
  }
  return { where, params };
}

/** One line of `kube-remediator audit --summary`: a runbook in a cluster over the range. */
export interface AuditSummary {
  /** Undefined for rows written before clusters were recorded, or by an unnamed cluster. */
  cluster?: string;
  /** Undefined for Remediations with inline steps. */
  runbook?: string;
  /** Remediations that ended succeeded, failed or blocked in the range (not skipped, not dry runs). */
  runs: number;
  succeeded: number;
  failed: number;
  blocked: number;
  skipped: number;
  dryRuns: number;
  /** succeeded / runs; undefined without runs. */
  successRatio?: number;
  /** Median seconds from the Remediation's `created` row to the end of a run. */
  medianSecondsToFinish?: number;
  reverted: number;
  revertFailed: number;
}

interface DbSummary {
  cluster: string | null;
  runbook: string | null;
  succeeded: number;
  failed: number;
  blocked: number;
  skipped: number;
  dry_runs: number;
  reverted: number;
  revert_failed: number;
  median_s: number | null;
}

const RUN_RESULTS = `('succeeded', 'failed', 'blocked')`;

/**
 * Per cluster and runbook, what ended in the range: one pass over the rows that carry a result
 * (one per end), each joined to its Remediation's `created` row for the time to finish. A run
 * that started before the range and ended in it counts, with its whole duration.
 */
export async function summarizeAudit(
  db: Pick<ClientBase, 'query'>,
  q: Omit<AuditQuery, 'limit'>,
): Promise<AuditSummary[]> {
  const table = qualified(q.schema ?? 'public', AUDIT_TABLE);
  const { where, params } = filtersOf(q);
  const res = await db.query<DbSummary>(
    `SELECT e.cluster, e.runbook,
            count(*) FILTER (WHERE e.result = 'succeeded')::int AS succeeded,
            count(*) FILTER (WHERE e.result = 'failed')::int AS failed,
            count(*) FILTER (WHERE e.result = 'blocked')::int AS blocked,
            count(*) FILTER (WHERE e.result = 'skipped')::int AS skipped,
            count(*) FILTER (WHERE e.result = 'dry_run')::int AS dry_runs,
            count(*) FILTER (WHERE e.result = 'reverted')::int AS reverted,
            count(*) FILTER (WHERE e.result = 'revert_failed')::int AS revert_failed,
            (percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM e.at - c.created_at))
              FILTER (WHERE e.result IN ${RUN_RESULTS}))::float8 AS median_s
     FROM (SELECT * FROM ${table} WHERE ${where.join(' AND ')} AND result IS NOT NULL) e
     LEFT JOIN LATERAL (
       SELECT min(at) AS created_at FROM ${table} c
       WHERE c.uid = e.uid AND c.event = 'created'
     ) c ON true
     GROUP BY e.cluster, e.runbook
     ORDER BY e.cluster NULLS FIRST, e.runbook NULLS FIRST`,
    params,
  );
  return res.rows.map((r) => {
    const runs = r.succeeded + r.failed + r.blocked;
    const out: AuditSummary = {
      runs,
      succeeded: r.succeeded,
      failed: r.failed,
      blocked: r.blocked,
      skipped: r.skipped,
      dryRuns: r.dry_runs,
      reverted: r.reverted,
      revertFailed: r.revert_failed,
    };
    if (r.cluster !== null) out.cluster = r.cluster;
    if (r.runbook !== null) out.runbook = r.runbook;
    if (runs > 0) out.successRatio = r.succeeded / runs;
    if (r.median_s !== null) out.medianSecondsToFinish = r.median_s;
    return out;
  });
}
