/**
 * postgresCheck: passes when a query (default `SELECT 1`) answers as expected; waits otherwise.
 *
 * A check runs on every poll and in dry runs too, so it must never write: the query runs as a
 * single statement (extended protocol, so `COMMIT; DELETE ...` cannot slip out) inside a
 * `BEGIN READ ONLY` transaction that is always rolled back. Writes belong to postgresQuery.
 */
import type { Action, ActionContext, ActionOutcome, Plan } from '../types.js';
import type { Step, StepStatus } from '../../api/v1alpha1/schema.js';
import { ERROR_CODES, errorMessage } from '../../util/errors.js';
import { done, failed, inProgress, isFailed } from '../outcome.js';
import { requireParams, validateParamsPresent } from '../step-input.js';
import { CHECK_POLL_MS } from '../services/replies.js';
import { redactUrl, requireUrl, resolveUrl } from '../services/url.js';
import { runPostgres, validatePostgresUrl, type QueryResult } from '../services/postgres.js';

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
