/**
 * postgresCheck: passes when a query (default `SELECT 1`) answers as expected; waits otherwise.
 *
 * A check runs on every poll and in dry runs too, so it must never write: the query runs as a
 * single statement (extended protocol, so `COMMIT; DELETE ...` cannot slip out) inside a
 * `BEGIN READ ONLY` transaction that is always rolled back. Writes belong to postgresQuery.
 */
import type pg from 'pg';
import type { Action, ActionContext, ActionOutcome, Plan } from './types.js';
import type { Step, StepStatus } from '../api/v1alpha1/schema.js';
import { ERROR_CODES, errorMessage } from '../util/errors.js';
import {
  EXTERNAL_TIMEOUT_MS,
  done,
  failed,
  inProgress,
  isFailed,
  requireParams,
  validateParamsPresent,
} from './common.js';
import { CHECK_POLL_MS, redactUrl, replyText, requireUrl, resolveUrl } from './external.js';

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

/** SQLSTATEs that say the query itself cannot run as a check: polling again will not help. */
const NOT_A_CHECK: Record<string, string> = {
  // read_only_sql_transaction
  '25006': 'it writes, and postgresCheck runs read-only (use postgresQuery for writes)',
  // syntax_error, which is also what several statements in one check give
  '42601': 'postgresCheck runs exactly one statement, read-only',
};

export function checkRefusal(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? NOT_A_CHECK[code] : undefined;
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

export function validatePostgresCheck(step: Step): string[] {
  const missing = validateParamsPresent(step, 'postgresCheck');
  return missing.length ? missing : validatePostgresUrl(step.postgresCheck, 'postgresCheck');
}

async function apply(ctx: ActionContext, _record: StepStatus): Promise<ActionOutcome> {
  const p = requireParams(ctx, 'postgresCheck');
  if (isFailed(p)) return p;
  const url = requireUrl(await resolveUrl(ctx, p, 'postgresCheck'), 'postgresCheck');
  if (isFailed(url)) return url;
  const query = p.query ?? 'SELECT 1';
  const what = `query on ${redactUrl(url)}`;
  let res: QueryResult;
  try {
    res = await runPostgres(url, query, { readOnly: true });
  } catch (err) {
    const refused = checkRefusal(err);
    if (refused)
      return failed(
        ERROR_CODES.actionRefused,
        'NotReadOnly',
        `${what} refused: ${refused}: ${errorMessage(err)}`,
        false,
      );
    return inProgress(`${what}: ${errorMessage(err)}`, CHECK_POLL_MS);
  }
  if (p.expect !== undefined && res.first !== p.expect)
    return inProgress(`${what} answered "${res.first.slice(0, 200)}", expected "${p.expect}"`, CHECK_POLL_MS);
  return done(`${what} answered "${res.first.slice(0, 200)}"`);
}

export const postgresCheck: Action = {
  name: 'postgresCheck',
  mutating: false,
  reversible: false,
  validate: validatePostgresCheck,
  plan: (): Promise<Plan> => Promise.resolve({}),
  apply,
};
