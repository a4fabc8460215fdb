/**
 * PostgreSQL for postgresCheck and postgresQuery: one statement on a fresh connection, and URL
 * checks.
 */
import type pg from 'pg';
import { EXTERNAL_TIMEOUT_MS, replyText } from './replies.js';
import { checkOutbound } from '../../security/outbound.js';

const CONNECT_TIMEOUT_MS = 3000;

/**
 * How much later than the server's statement_timeout the client gives up: the server's cancel
 * (SQLSTATE 57014, "canceling statement due to statement timeout") says what happened, a client
 * timeout only that nothing came back.
 */
const CLIENT_SLACK_MS = 2000;

/** SQLSTATE of a statement PostgreSQL cancelled, e.g. for statement_timeout. */
export const QUERY_CANCELED = '57014';

export interface QueryResult {
  rowCount: number;
  /** The first column of the first row, as text ('' when there is none). */
  first: string;
  /** Column names. */
  columns: string[];
  /** The first `keepRows` rows, values as text (SQL NULL as null). */
  rows: (string | null)[][];
}

export interface RunOptions {
  /** One statement in a read-only transaction that is rolled back. */
  readOnly?: boolean;
  /** statement_timeout; default EXTERNAL_TIMEOUT_MS. */
  timeoutMs?: number;
  /** Rows to keep in `rows`; default 0. */
  keepRows?: number;
}

/**
 * Runs one statement on a fresh connection and closes it. The deadlines matter: pg waits
 * forever for a connection by default, and a stuck query would hold the step past its timeout.
 * With `readOnly`, the query must be one statement and runs in a read-only transaction that
 * is rolled back.
 */
export async function runPostgres(url: string, query: string, opts: RunOptions = {}): Promise<QueryResult> {
  // outbound.allow (src/security/outbound.ts): before connecting.
  await checkOutbound(url);
  // Loaded on first use: the driver costs memory in every operator that never runs a check.
  const { default: driver } = await import('pg');
  const timeoutMs = opts.timeoutMs ?? EXTERNAL_TIMEOUT_MS;
  const client = new driver.Client({
    connectionString: url,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    query_timeout: timeoutMs + CLIENT_SLACK_MS,
    statement_timeout: timeoutMs,
  });
  // A connection dropped between statements is emitted, not thrown; without a listener it crashes the process.
  client.on('error', () => undefined);
  const keep = opts.keepRows ?? 0;
  try {
    await client.connect();
    if (opts.readOnly) {
      await client.query('BEGIN READ ONLY');
      try {
        // 'extended' sends Parse/Bind/Execute, which takes exactly one statement.
        const config = { text: query, rowMode: 'array', queryMode: 'extended' } as pg.QueryConfig;
        return resultOf(await client.query(config), keep);
      } finally {
        await client.query('ROLLBACK').catch(() => undefined);
      }
    }
    const answer: unknown = await client.query({ text: query, rowMode: 'array' });
    // Several statements in one string answer with one result each; the last one counts.
    return resultOf((Array.isArray(answer) ? answer[answer.length - 1] : answer) as pg.QueryResult, keep);
  } finally {
    await client.end().catch(() => undefined);
  }
}

function resultOf(res: pg.QueryResult, keep: number): QueryResult {
  const rows = res.rows as unknown[][];
  return {
    rowCount: res.rowCount ?? rows.length,
    first: replyText(rows[0]?.[0]),
    columns: (res.fields ?? []).map((f) => f.name),
    rows: rows.slice(0, keep).map((row) => row.map((v) => (v === null ? null : replyText(v)))),
  };
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
