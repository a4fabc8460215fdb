/** A pg Pool set up to fail fast and never crash the process when PostgreSQL goes away. */
import { Pool, escapeIdentifier, type PoolClient } from 'pg';
import type { Logger } from '../observability/logger.js';

export interface PgPoolOptions {
  url: string;
  logger: Logger;
  /** Bounds connecting and each query, so a hung server looks like a down one. */
  timeoutMs: number;
  max?: number;
  /** For logs: which part of the operator this pool serves. */
  purpose: string;
}

export function createPgPool(opts: PgPoolOptions): Pool {
  const pool = new Pool({
    connectionString: opts.url,
    max: opts.max ?? 5,
    // The default 0 waits forever for a connection that never comes.
    connectionTimeoutMillis: opts.timeoutMs,
    query_timeout: opts.timeoutMs,
    idleTimeoutMillis: 30_000,
    application_name: `kube-remediator-${opts.purpose}`,
  });
  // Idle clients report a lost server through the pool; without a listener that is an
  // uncaught 'error' event and the process exits.
  pool.on('error', (err: Error) =>
    opts.logger.debug('postgres idle client error', { purpose: opts.purpose, error: err.message }),
  );
  return pool;
}

/** `"schema".name`, quoted, so any schema name a test or user picks is safe in SQL. */
export function qualified(schema: string, name: string): string {
  return `${escapeIdentifier(schema)}.${escapeIdentifier(name)}`;
}

/**
 * Runs DDL under a transaction-scoped advisory lock: replicas that start together would
 * otherwise race on `CREATE ... IF NOT EXISTS` and one of them fail on a duplicate catalog row.
 */
export async function migrate(
  pool: Pool,
  lockName: string,
  statements: string[],
  more?: (client: PoolClient) => Promise<void>,
): Promise<void> {
  const client: PoolClient = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [lockName]);
    for (const sql of statements) await client.query(sql);
    await more?.(client);
    await client.query('COMMIT');
  } catch (err) {
    broken = err as Error;
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    // A client whose server went away must not go back into the pool.
    client.release(broken);
  }
}

/** One step of a component's schema: additive only (see docs/adr/0014-fleet-audit-schema-versions.md). */
export interface Migration {
  version: number;
  statements: string[];
}

export interface VersionedMigrationOptions {
  schema: string;
  /** Names the version row and the advisory lock; the lock is the one `migrate()` takes for this name. */
  component: string;
  /** The component's main table, quoted: when it is missing, its version row is stale and all steps run. */
  table: string;
  migrations: readonly Migration[];
}

/**
 * Brings a component's tables to its newest version: under the advisory lock of `migrate()`,
 * in one transaction, runs the steps newer than the version recorded in
 * `kube_remediator_schema_versions` and records the newest. Operators that start at once wait
 * for each other and the later ones find nothing to do; a start finds the version row first, so
 * it takes no table lock once the schema is current. A version newer than the code knows (a
 * rollback) is left as it is: steps are additive, so older code still works on it.
 */
export async function migrateVersions(
  pool: Pool,
  opts: VersionedMigrationOptions,
): Promise<{ from: number; to: number }> {
  const versions = qualified(opts.schema, 'kube_remediator_schema_versions');
  let result = { from: 0, to: 0 };
  await migrate(pool, opts.component, [], async (client) => {
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${escapeIdentifier(opts.schema)}`);
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${versions} (
         component text PRIMARY KEY,
         version integer NOT NULL,
         updated_at timestamptz NOT NULL DEFAULT now())`,
    );
    const res = await client.query<{ present: boolean; version: number | null }>(
      `SELECT to_regclass($1) IS NOT NULL AS present,
              (SELECT version FROM ${versions} WHERE component = $2) AS version`,
      [opts.table, opts.component],
    );
    const from = res.rows[0]?.present ? (res.rows[0].version ?? 0) : 0;
    const pending = opts.migrations.filter((m) => m.version > from).sort((a, b) => a.version - b.version);
    for (const m of pending) for (const sql of m.statements) await client.query(sql);
    const to = pending.at(-1)?.version ?? from;
    if (to !== from)
      await client.query(
        `INSERT INTO ${versions} (component, version) VALUES ($1, $2)
         ON CONFLICT (component) DO UPDATE SET version = EXCLUDED.version, updated_at = now()`,
        [opts.component, to],
      );
    result = { from, to };
  });
  return result;
}

/**
 * True when a query failed because the schema or table is missing, e.g. the database was
 * restored or recreated while we ran; the caller then runs its migration again.
 */
export function isMissingRelation(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === '42P01' || code === '3F000';
}
