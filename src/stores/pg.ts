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
export async function migrate(pool: Pool, lockName: string, statements: string[]): Promise<void> {
  const client: PoolClient = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [lockName]);
    for (const sql of statements) await client.query(sql);
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

/**
 * True when a query failed because the schema or table is missing, e.g. the database was
 * restored or recreated while we ran; the caller then runs its migration again.
 */
export function isMissingRelation(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === '42P01' || code === '3F000';
}
