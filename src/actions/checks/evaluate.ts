/**
 * Checks of guards and holds: one evaluation of one Check, through the same reads as the check
 * actions (readHttp, readRedis, readPostgres, readPrometheus), so that a Check means exactly
 * what the step of the same name means. A step polls until its check passes; an evaluation
 * looks once, under the check's own deadline, and says Met, NotMet or Error. Read-only: it
 * needs no checkpoint before it.
 *
 *   evaluateCheck(check, ctx, { noData })  → { result: 'Met' | 'NotMet' | 'Error', message, output? }
 *   validateChecks(checks, 'guard.checks') → ['guard.checks[0].redisCheck.expectMatch: ...', ...]
 */
import {
  CHECK_MEMBERS,
  type Check,
  type CheckMember,
  type NoDataMeaning,
} from '../../api/v1alpha1/schema.js';
import { errorMessage } from '../../util/errors.js';
import { formatDuration, parseDuration } from '../../util/duration.js';
import type { StepOutput } from '../output.js';
import type { CheckContext, ReadOptions, Reading } from './reading.js';
import { httpCheckProblems, readHttp } from './http-check.js';
import { readRedis, redisCheckProblems } from './redis-check.js';
import { postgresCheckProblems, readPostgres } from './postgres-check.js';
import { prometheusQueryProblems, readPrometheus } from './prometheus-query.js';
import { readRollout, rolloutCheckProblems } from './rollout-check.js';

export type { CheckContext } from './reading.js';

export type CheckResult = 'Met' | 'NotMet' | 'Error';

/** One evaluation of one Check, as guards and holds record it. */
export interface CheckEvaluation {
  /** Met: it passes. NotMet: it read fine and does not pass. Error: it could not be read. */
  result: CheckResult;
  /** What was asked and what came back, for people (no secrets: URLs are redacted). */
  message: string;
  /** What was read (samples, the reply, rows), bounded and masked; see StepStatus.output. */
  output?: StepOutput;
}

export interface EvaluateOptions {
  /**
   * What no data means for a prometheusQuery that does not say: `Fail` by default (a guard
   * without evidence is not met). An evaluation does not poll, so `Wait` reads as NotMet.
   */
  noData?: NoDataMeaning;
}

export const DEFAULT_CHECK_TIMEOUT_MS = 10_000;
export const MAX_CHECK_TIMEOUT_MS = 60_000;

type Reader<M extends CheckMember> = (
  ctx: CheckContext,
  params: NonNullable<Check[M]>,
  opts: ReadOptions,
) => Promise<Reading>;

const READERS: { [M in CheckMember]: Reader<M> } = {
  httpCheck: (_ctx, p, opts) => readHttp(p, opts),
  redisCheck: readRedis,
  postgresCheck: readPostgres,
  prometheusQuery: (_ctx, p, opts) => readPrometheus(p, opts),
  rollout: readRollout,
};

const PROBLEMS: { [M in CheckMember]: (params: NonNullable<Check[M]>) => string[] } = {
  httpCheck: httpCheckProblems,
  redisCheck: redisCheckProblems,
  postgresCheck: postgresCheckProblems,
  prometheusQuery: prometheusQueryProblems,
  rollout: rolloutCheckProblems,
};

/** The members the check sets (valid: exactly one). */
export function checkMembers(check: Check): CheckMember[] {
  return CHECK_MEMBERS.filter((m) => check[m] !== undefined);
}

/** The check's deadline in ms; throws on a malformed duration. */
export function checkTimeoutMs(check: Pick<Check, 'timeout'>): number {
  return check.timeout ? parseDuration(check.timeout) : DEFAULT_CHECK_TIMEOUT_MS;
}

function read<M extends CheckMember>(
  m: M,
  check: Check,
  ctx: CheckContext,
  opts: ReadOptions,
): Promise<Reading> {
  return (READERS[m] as Reader<M>)(ctx, check[m] as NonNullable<Check[M]>, opts);
}

/** The reading, or an Error reading once `ms` have passed (the reads have deadlines too: this is the backstop). */
async function within(ms: number, reading: Promise<Reading>): Promise<Reading> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<Reading>((resolve) => {
    timer = setTimeout(
      () =>
        resolve({
          result: 'Error',
          message: `no answer within the check's timeout of ${formatDuration(ms)}`,
        }),
      ms,
    );
  });
  try {
    return await Promise.race([reading, late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Evaluates one Check once. Never throws: anything that goes wrong is an Error result whose
 * message says what. `ctx` gives Secrets (urlFrom) and, for `rollout`, the cluster and target.
 */
export async function evaluateCheck(
  check: Check,
  ctx: CheckContext,
  opts: EvaluateOptions = {},
): Promise<CheckEvaluation> {
  const members = checkMembers(check);
  if (members.length !== 1)
    return {
      result: 'Error',
      message: `check ${check.name} must have exactly one of ${CHECK_MEMBERS.join(', ')}`,
    };
  let timeoutMs: number;
  try {
    timeoutMs = Math.min(checkTimeoutMs(check), MAX_CHECK_TIMEOUT_MS);
  } catch (err) {
    return { result: 'Error', message: `check ${check.name}: timeout: ${errorMessage(err)}` };
  }
  const readOpts: ReadOptions = { timeoutMs, noData: opts.noData ?? 'Fail' };
  let reading: Reading;
  try {
    reading = await within(timeoutMs, read(members[0]!, check, ctx, readOpts));
  } catch (err) {
    reading = { result: 'Error', message: errorMessage(err) };
  }
  return {
    result: reading.result,
    message: reading.message,
    ...(reading.output ? { output: reading.output } : {}),
  };
}

function timeoutProblem(check: Check): string | undefined {
  if (check.timeout === undefined) return undefined;
  try {
    const ms = parseDuration(check.timeout);
    if (ms <= 0) return 'timeout: must be longer than 0';
    if (ms > MAX_CHECK_TIMEOUT_MS)
      return `timeout: at most ${formatDuration(MAX_CHECK_TIMEOUT_MS)} (a check looks once; a step or a hold waits longer)`;
  } catch (err) {
    return `timeout: ${errorMessage(err)}`;
  }
  return undefined;
}

/** One check's problems at `at` (e.g. `guard.checks[0]`), each naming its field. */
function checkProblems(check: Check, at: string): string[] {
  const members = checkMembers(check);
  const out: string[] = [];
  if (members.length !== 1)
    out.push(
      `${at}: give exactly one of ${CHECK_MEMBERS.join(', ')}${members.length ? `, not ${members.join(' and ')}` : ''}`,
    );
  const timeout = timeoutProblem(check);
  if (timeout) out.push(`${at}.${timeout}`);
  for (const m of members)
    for (const problem of (PROBLEMS[m] as (p: unknown) => string[])(check[m])) out.push(`${at}.${problem}`);
  return out;
}

/**
 * The problems of a list of checks at `path` (e.g. `guard.checks` or `steps[2].hold.checks`),
 * each naming its field: `steps[2].guard.checks[0].prometheusQuery.noData: must be one of ...`.
 * The structural ones (types, enums, patterns) are the schema's: Runbook validation reports
 * those before it gets here.
 */
export function validateChecks(checks: readonly Check[] | undefined, path: string): string[] {
  const out: string[] = [];
  const names = new Set<string>();
  (checks ?? []).forEach((check, i) => {
    const at = `${path}[${i}]`;
    if (names.has(check.name))
      out.push(`${at}.name: "${check.name}" is used by an earlier check of the list`);
    names.add(check.name);
    out.push(...checkProblems(check, at));
  });
  return out;
}
