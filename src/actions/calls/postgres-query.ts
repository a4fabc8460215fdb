/** postgresQuery: runs one statement. Skipped in a dry run. */
import type { Action, ActionContext, ActionOutcome, Plan } from '../types.js';
import type { Step, StepStatus } from '../../api/v1alpha1/schema.js';
import { ERROR_CODES, errorMessage } from '../../util/errors.js';
import { done, failed, isFailed } from '../outcome.js';
import { requireParams, validateParamsPresent } from '../step-input.js';
import { callFailure, skippedInDryRun } from '../services/replies.js';
import { redactUrl, requireUrl, resolveUrl } from '../services/url.js';
import { runPostgres, validatePostgresUrl } from '../services/postgres.js';

export function validatePostgresQuery(step: Step): string[] {
  const missing = validateParamsPresent(step, 'postgresQuery');
  if (missing.length) return missing;
  const errors = validatePostgresUrl(step.postgresQuery, 'postgresQuery');
  if (!step.postgresQuery!.query?.trim()) errors.push('postgresQuery.query: give the statement to run');
  return errors;
}

/** Postgres reported an SQL error (it has a SQLSTATE): the statement itself is wrong. */
function isSqlError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return (
    typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) && !code.startsWith('08') && !code.startsWith('57')
  );
}

async function apply(ctx: ActionContext, _record: StepStatus): Promise<ActionOutcome> {
  const p = requireParams(ctx, 'postgresQuery');
  if (isFailed(p)) return p;
  const url = requireUrl(await resolveUrl(ctx, p, 'postgresQuery'), 'postgresQuery');
  if (isFailed(url)) return url;
  const what = `statement on ${redactUrl(url)}`;
  if (ctx.dryRun)
    return skippedInDryRun(`run ${what}: ${p.query.slice(0, 200)}`, { url: redactUrl(url), query: p.query });
  try {
    const res = await runPostgres(url, p.query);
    return done(`${what} affected ${res.rowCount} row(s)`, { after: { rowCount: res.rowCount } });
  } catch (err) {
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
