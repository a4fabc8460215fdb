/**
 * The audit table's versions, oldest first. Each step is additive (new nullable columns and
 * indexes), so replicas of the previous release keep writing while a rollout runs, and a
 * rollback finds a table it can still use. Never edit a step once released: add one.
 */
import { escapeIdentifier } from 'pg';
import type { Migration } from '../db/pg.js';
import { qualified } from '../db/pg.js';

export const AUDIT_TABLE = 'kube_remediator_audit';

export function auditMigrations(schema: string): Migration[] {
  const table = qualified(schema, AUDIT_TABLE);
  const index = (name: string): string => escapeIdentifier(`${AUDIT_TABLE}_${name}`);
  return [
    {
      // 0.1.0's table. IF NOT EXISTS: a table made before versions were recorded is adopted as is.
      version: 1,
      statements: [
        `CREATE TABLE IF NOT EXISTS ${table} (
           id bigserial PRIMARY KEY,
           row_key uuid NOT NULL UNIQUE,
           at timestamptz NOT NULL,
           event text NOT NULL,
           namespace text NOT NULL,
           remediation text NOT NULL,
           uid text,
           runbook text,
           target text,
           alertname text,
           step text,
           phase text,
           message text,
           details jsonb)`,
        `CREATE INDEX IF NOT EXISTS ${index('at')} ON ${table} (at)`,
        `CREATE INDEX IF NOT EXISTS ${index('runbook_at')} ON ${table} (runbook, at)`,
      ],
    },
    {
      // Many clusters in one table, and the result of each end for `audit --summary`. Rows
      // written before have no cluster (NULL: nobody can tell which it was); their results are
      // derived here from event and phase as finishResult (finish-result.ts) maps them.
      version: 2,
      statements: [
        `ALTER TABLE ${table} ADD COLUMN IF NOT EXISTS cluster text, ADD COLUMN IF NOT EXISTS result text`,
        `UPDATE ${table} SET result = CASE
           WHEN event = 'finished' AND phase = 'Succeeded' THEN 'succeeded'
           WHEN event = 'finished' AND phase = 'Failed' THEN 'failed'
           WHEN event = 'finished' AND phase = 'Skipped' THEN 'skipped'
           WHEN event = 'finished' AND phase = 'DryRun' THEN 'dry_run'
           WHEN event = 'rejected' THEN 'skipped'
           WHEN event = 'blocked' AND phase = 'Blocked' THEN 'blocked'
           WHEN event = 'reverted' AND phase = 'Reverted' AND step IS NULL THEN 'reverted'
           WHEN event = 'reverted' AND phase = 'Failed' THEN 'revert_failed'
         END
         WHERE result IS NULL AND event IN ('finished', 'rejected', 'blocked', 'reverted')`,
        `CREATE INDEX IF NOT EXISTS ${index('cluster_at')} ON ${table} (cluster, at)`,
        `CREATE INDEX IF NOT EXISTS ${index('uid')} ON ${table} (uid)`,
      ],
    },
  ];
}
