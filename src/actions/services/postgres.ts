/**
 * PostgreSQL for postgresCheck and postgresQuery: one statement on a fresh connection, and URL
 * checks.
 */
import type pg from 'pg';
import { EXTERNAL_TIMEOUT_MS, replyText } from './replies.js';

const CONNECT_TIMEOUT_MS = 3000;

export interface QueryResult {
  rowCount: number;
  /** The first column of the first row, as text ('' when there is none). */
  first: string;
}

/**
 * Runs one statement on a fresh connection and closes it. The deadlines matter: pg waits
 * forever for a connection by default, and a stuck query would hold the step past its timeout.
 * With `readOnly`, the query must be one statement and runs in a read-only transaction that
 * is rolled back.
 */
export async function runPostgres(
  url: string,
  query: string,
  opts: { readOnly?: boolean } = {},
): Promise<QueryResult> {
  // Loaded on first use: the driver costs memory in every operator that never runs a check.
  const { default: driver } = await import('pg');
  const client = new driver.Client({
    connectionString: url,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    query_timeout: EXTERNAL_TIMEOUT_MS,
    statement_timeout: EXTERNAL_TIMEOUT_MS,
  });
  // A connection dropped between statements is emitted, not thrown; without a listener it crashes the process.
  client.on('error', () => undefined);
  try {
    await client.connect();
    if (opts.readOnly) {
      await client.query('BEGIN READ ONLY');
      try {
        // 'extended' sends Parse/Bind/Execute, which takes exactly one statement.
        const config = { text: query, rowMode: 'array', queryMode: 'extended' } as pg.QueryConfig;
        return resultOf(await client.query(config));
      } finally {
        await client.query('ROLLBACK').catch(() => undefined);
      }
    }
    const answer: unknown = await client.query({ text: query, rowMode: 'array' });
    // Several statements in one string answer with one result each; the last one counts.
    return resultOf((Array.isArray(answer) ? answer[answer.length - 1] : answer) as pg.QueryResult);
  } finally {
    await client.end().catch(() => undefined);
  }
}

function resultOf(res: pg.QueryResult): QueryResult {
  const row = (res.rows as unknown[][])[0];
  return { rowCount: res.rowCount ?? res.rows.length, first: replyText(row?.[0]) };
}

export function validatePostgresUrl(
  p: { url?: string; urlFrom?: unknown } | undefined,
  field: string,
): string[] {
  if (!p?.url && !p?.urlFrom) return [`${field}: give url or urlFrom.secretKeyRef`];
  if (p.url && !/^postgres(ql)?:\/\//.test(p.url))
    return [`${field}.url: must start with postgres:// or postgresql://`];
  return [];
}
