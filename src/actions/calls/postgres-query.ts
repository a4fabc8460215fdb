/** postgresQuery: runs one statement, with a statement timeout of its own. Skipped in a dry run. */
import type { Action, ActionContext, ActionOutcome, Plan } from '../types.js';
import type { Step, StepStatus } from '../../api/v1alpha1/schema.js';
import { ERROR_CODES, errorMessage } from '../../util/errors.js';
import { formatDuration, parseDuration } from '../../util/duration.js';
import { done, failed, isFailed } from '../outcome.js';
import { requireParams, validateParamsPresent } from '../step-input.js';
import { EXTERNAL_TIMEOUT_MS, callFailure, skippedInDryRun } from '../services/replies.js';
import { redactUrl, requireUrl, resolveUrl } from '../services/url.js';
import { QUERY_CANCELED, runPostgres, validatePostgresUrl } from '../services/postgres.js';

/** The longest statementTimeout: a statement holds a worker of the controller while it runs. */
export const MAX_STATEMENT_TIMEOUT_MS = 3_600_000;

/** The step timeout a step without one gets by default (controller.defaultStepTimeout's default). */
const DEFAULT_STEP_TIMEOUT_MS = 120_000;

/** The statement timeout of the step in ms (default 10s); throws on a malformed duration. */
export function statementTimeoutMs(p: { statementTimeout?: string }): number {
  return p.statementTimeout ? parseDuration(p.statementTimeout) : EXTERNAL_TIMEOUT_MS;
}

function validateStatementTimeout(step: Step): string[] {
  const text = step.postgresQuery?.statementTimeout;
  if (text === undefined) return [];
  const field = 'postgresQuery.statementTimeout';
  let ms: number;
  try {
    ms = parseDuration(text);
  } catch (err) {
    return [`${field}: ${errorMessage(err)}`];
  }
  if (ms < 1000) return [`${field}: must be at least 1s`];
  if (ms > MAX_STATEMENT_TIMEOUT_MS)
    return [`${field}: at most 1h (a statement holds a controller worker while it runs)`];
  let stepMs = DEFAULT_STEP_TIMEOUT_MS;
  try {
    if (step.timeout) stepMs = parseDuration(step.timeout);
  } catch {
    return []; // the step's own timeout is reported by itself
  }
  if (ms > stepMs)
    return [
      `${field}: ${text} is longer than the step's timeout (${step.timeout ?? `${formatDuration(DEFAULT_STEP_TIMEOUT_MS)}, the default`}): set the step's timeout to ${text} or more`,
    ];
  return [];
}

export function validatePostgresQuery(step: Step): string[] {
  const missing = validateParamsPresent(step, 'postgresQuery');
  if (missing.length) return missing;
  const errors = validatePostgresUrl(step.postgresQuery, 'postgresQuery');
  if (!step.postgresQuery!.query?.trim()) errors.push('postgresQuery.query: give the statement to run');
  return [...errors, ...validateStatementTimeout(step)];
}

/** Postgres reported an SQL error (it has a SQLSTATE): the statement itself is wrong. */
function isSqlError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return (
    typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) && !code.startsWith('08') && !code.startsWith('57')
  );
}

function sqlState(err: unknown): unknown {
  return (err as { code?: unknown } | null)?.code;
}

async function apply(ctx: ActionContext, _record: StepStatus): Promise<ActionOutcome> {
  const p = requireParams(ctx, 'postgresQuery');
  if (isFailed(p)) return p;
  const url = requireUrl(await resolveUrl(ctx, p, 'postgresQuery'), 'postgresQuery');
  if (isFailed(url)) return url;
  const what = `statement on ${redactUrl(url)}`;
  if (ctx.dryRun)
    return skippedInDryRun(`run ${what}: ${p.query.slice(0, 200)}`, { url: redactUrl(url), query: p.query });
  const timeoutMs = statementTimeoutMs(p);
  try {
    const res = await runPostgres(url, p.query, { timeoutMs });
    return done(`${what} affected ${res.rowCount} row(s)`, { after: { rowCount: res.rowCount } });
  } catch (err) {
    if (sqlState(err) === QUERY_CANCELED)
      // `retries` may run it again (a lock may be gone by then); it is not retried otherwise.
      return failed(
        ERROR_CODES.timeout,
        'StatementTimeout',
        `${what} ran longer than its statementTimeout of ${formatDuration(timeoutMs)} and PostgreSQL cancelled it (its work rolled back): raise postgresQuery.statementTimeout (at most 1h) or make the statement cheaper: ${errorMessage(err)}`,
        true,
      );
    if (isSqlError(err))
      return failed(ERROR_CODES.actionFailed, 'QueryError', `${what} failed: ${errorMessage(err)}`, false);
    return callFailure(what, undefined, err);
  }
}

export const postgresQuery: Action = {
  name: 'postgresQuery',
  mutating: true,
  reversible: false,
  validate: validatePostgresQuery,
  plan: (): Promise<Plan> => Promise.resolve({}),
  apply,
};
