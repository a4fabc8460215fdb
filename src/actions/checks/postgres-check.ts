/**
 * postgresCheck: passes when a query (default `SELECT 1`) answers as expected; waits otherwise.
 *
 * A check runs on every poll and in dry runs too, so it must never write: the query runs as a
 * single statement (extended protocol, so `COMMIT; DELETE ...` cannot slip out) inside a
 * `BEGIN READ ONLY` transaction that is always rolled back. Writes belong to postgresQuery.
 */
import type { Action, ActionContext, ActionOutcome, Plan } from '../types.js';
import type { PostgresCheckParams, Step, StepStatus } from '../../api/v1alpha1/schema.js';
import { ERROR_CODES, errorMessage } from '../../util/errors.js';
import { failed, isFailed } from '../outcome.js';
import { requireParams, validateParamsPresent } from '../step-input.js';
import { redactUrl, requireUrl, resolveUrl } from '../services/url.js';
import { runPostgres, validatePostgresUrl, type QueryResult } from '../services/postgres.js';
import { REPLY_BYTES, byteLength, recordedText, type StepOutput } from '../output.js';
import {
  broken,
  met,
  notMet,
  stepOutcome,
  troubled,
  STEP_READ,
  type CheckContext,
  type ReadOptions,
  type Reading,
} from './reading.js';
import { quoted, textProblem, validateTextExpect } from './text-expect.js';

/** SQLSTATEs that say the query itself cannot run as a check: polling again will not help. */
const NOT_A_CHECK: Record<string, string> = {
  // read_only_sql_transaction
  '25006': 'it writes, and postgresCheck runs read-only (use postgresQuery for writes)',
  // syntax_error, which is also what several statements in one check give
  '42601': 'postgresCheck runs exactly one statement, read-only',
};

/** One recorded value at most, so that one wide column cannot crowd out the other rows. */
const VALUE_BYTES = 512;

export function checkRefusal(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? NOT_A_CHECK[code] : undefined;
}

/** The parameters' problems, as `postgresCheck.<field>: ...` (steps and checks alike). */
export function postgresCheckProblems(p: PostgresCheckParams): string[] {
  return [...validatePostgresUrl(p, 'postgresCheck'), ...validateTextExpect(p, 'postgresCheck')];
}

export function validatePostgresCheck(step: Step): string[] {
  const missing = validateParamsPresent(step, 'postgresCheck');
  return missing.length ? missing : postgresCheckProblems(step.postgresCheck!);
}

/**
 * The rows as recorded with `recordRows` (pure): values masked and cut, whole rows kept while
 * they fit in REPLY_BYTES, `truncated` when anything was cut or left out.
 */
export function rowsOutput(res: Pick<QueryResult, 'columns' | 'rows' | 'rowCount'>): StepOutput {
  let used = byteLength(JSON.stringify(res.columns));
  let truncated = res.rowCount > res.rows.length;
  const rows: (string | null)[][] = [];
  for (const row of res.rows) {
    const cells = row.map((v) => {
      if (v === null) return null;
      const cut = recordedText(v, VALUE_BYTES);
      truncated ||= cut.truncated;
      return cut.text;
    });
    const size = byteLength(JSON.stringify(cells));
    if (used + size > REPLY_BYTES) {
      truncated = true;
      break;
    }
    used += size;
    rows.push(cells);
  }
  return { columns: res.columns, rows, rowCount: res.rowCount, ...(truncated ? { truncated: true } : {}) };
}

/** One look: the query in a read-only transaction, its first value against the expectations. */
export async function readPostgres(
  ctx: CheckContext,
  p: PostgresCheckParams,
  opts: ReadOptions,
): Promise<Reading> {
  const url = requireUrl(await resolveUrl(ctx, p, 'postgresCheck'), 'postgresCheck');
  if (isFailed(url)) return broken(url);
  const query = p.query ?? 'SELECT 1';
  const what = `query on ${redactUrl(url)}`;
  let res: QueryResult;
  try {
    res = await runPostgres(url, query, {
      readOnly: true,
      timeoutMs: opts.timeoutMs,
      keepRows: p.recordRows ?? 0,
    });
  } catch (err) {
    const refused = checkRefusal(err);
    if (refused)
      return broken(
        failed(
          ERROR_CODES.actionRefused,
          'NotReadOnly',
          `${what} refused: ${refused}: ${errorMessage(err)}`,
          false,
        ),
      );
    return troubled(`${what}: ${errorMessage(err)}`);
  }
  const output = p.recordRows ? rowsOutput(res) : undefined;
  const problem = textProblem(res.first, p);
  return problem
    ? notMet(`${what} ${problem}`, output)
    : met(`${what} answered ${quoted(res.first)}`, output);
}

async function apply(ctx: ActionContext, _record: StepStatus): Promise<ActionOutcome> {
  const p = requireParams(ctx, 'postgresCheck');
  if (isFailed(p)) return p;
  return stepOutcome(await readPostgres(ctx, p, STEP_READ));
}

export const postgresCheck: Action = {
  name: 'postgresCheck',
  mutating: false,
  reversible: false,
  validate: validatePostgresCheck,
  plan: (): Promise<Plan> => Promise.resolve({}),
  apply,
};
