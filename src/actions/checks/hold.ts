/**
 * hold and waitUntil: steps that evaluate a list of Checks (evaluate.ts) again and again.
 *   hold       a soak: the checks must keep passing for `duration`; one that does not fails
 *              the step at once (e.g. 10 minutes of error ratio below 1 % after a ramp).
 *   waitUntil  a wait: until every check passes; "not yet" until the step's timeout (the
 *              revert gate of `onResolve` runs as one).
 * Level-based: the hold is measured from the step's checkpoint (`record.startedAt`), so a
 * restart resumes it; between looks the step asks to be requeued at the interval, it never
 * sleeps. Each look is read-only and needs no checkpoint of its own.
 *
 *   holdVerdict / waitVerdict: pure (evaluations and times in, outcome out), tabled in tests.
 */
import type { Action, ActionContext, ActionOutcome, Plan } from '../types.js';
import type { Check, Step, StepStatus } from '../../api/v1alpha1/schema.js';
import { ERROR_CODES } from '../../util/errors.js';
import { errorMessage } from '../../util/errors.js';
import { formatDuration, parseDuration } from '../../util/duration.js';
import { done, failed, inProgress, isFailed } from '../outcome.js';
import { requireParams, validateParamsPresent } from '../step-input.js';
import { evaluateCheck, validateChecks, type CheckEvaluation } from './evaluate.js';

export const DEFAULT_HOLD_INTERVAL_MS = 30_000;
export const DEFAULT_WAIT_INTERVAL_MS = 15_000;
/** Below this, looks would be a busy loop against the checked services. */
export const MIN_INTERVAL_MS = 1_000;
/** A hold's timeout when the step gives none: its duration and this much slack for the looks. */
export const HOLD_TIMEOUT_SLACK_MS = 60_000;

/** One check's evaluation as a hold or gate records it (`output.checks[]`). */
export interface NamedEvaluation extends CheckEvaluation {
  name: string;
}

/** Every check of the list, evaluated once, in parallel (each under its own deadline). */
export async function evaluateAll(checks: readonly Check[], ctx: ActionContext): Promise<NamedEvaluation[]> {
  return Promise.all(checks.map(async (c) => ({ name: c.name, ...(await evaluateCheck(c, ctx)) })));
}

/** What the step records of its last look: one line per check, with what it read. */
export function evaluationsOutput(evals: readonly NamedEvaluation[]): Record<string, unknown> {
  return {
    checks: evals.map((e) => ({
      name: e.name,
      result: e.result,
      message: e.message,
      ...(e.output ? { output: e.output } : {}),
    })),
  };
}

function notPassing(evals: readonly NamedEvaluation[]): NamedEvaluation[] {
  return evals.filter((e) => e.result !== 'Met');
}

function describe(evals: readonly NamedEvaluation[]): string {
  return evals.map((e) => `${e.name}: ${e.result}: ${e.message}`).join('; ');
}

export interface HoldTimes {
  /** The step's checkpoint: when the hold began. */
  startedAtMs: number;
  nowMs: number;
  durationMs: number;
  intervalMs: number;
}

/**
 * One look of a hold: a check that does not pass fails it (retryable: `retries` may soak
 * again); all passing before the duration is "look again at the interval" (or at the end,
 * whichever is first); all passing at or after the end is done.
 */
export function holdVerdict(evals: readonly NamedEvaluation[], t: HoldTimes): ActionOutcome {
  const output = evaluationsOutput(evals);
  const held = Math.max(0, t.nowMs - t.startedAtMs);
  const bad = notPassing(evals);
  if (bad.length > 0)
    return failed(
      ERROR_CODES.actionFailed,
      'HoldCheckFailed',
      `hold broken after ${formatDuration(Math.floor(held / 1000) * 1000)} of ${formatDuration(t.durationMs)}: ${describe(bad)}`,
      true,
      output,
    );
  if (held >= t.durationMs)
    return done(`held ${formatDuration(t.durationMs)}: every check kept passing`, { output });
  const left = t.durationMs - held;
  return inProgress(
    `holding: ${formatDuration(Math.floor(held / 1000) * 1000)} of ${formatDuration(t.durationMs)}, every check passing`,
    Math.max(1, Math.min(t.intervalMs, left)),
    output,
  );
}

/** One look of a wait: done when every check passes, else "not yet" at the interval. */
export function waitVerdict(evals: readonly NamedEvaluation[], intervalMs: number): ActionOutcome {
  const output = evaluationsOutput(evals);
  const bad = notPassing(evals);
  if (bad.length === 0) return done(`every check passes: ${evals.map((e) => e.name).join(', ')}`, { output });
  return inProgress(`waiting: ${describe(bad)}`, intervalMs, output);
}

/** An interval field's problems (`hold.interval: ...`), given the default when absent. */
function intervalProblems(text: string | undefined, field: string, maxMs?: number): string[] {
  if (text === undefined) return [];
  try {
    const ms = parseDuration(text);
    if (ms < MIN_INTERVAL_MS) return [`${field}: at least ${formatDuration(MIN_INTERVAL_MS)}`];
    if (maxMs !== undefined && ms > maxMs)
      return [`${field}: at most the duration (${formatDuration(maxMs)})`];
  } catch (err) {
    return [`${field}: ${errorMessage(err)}`];
  }
  return [];
}

/** A duration field's problems: it parses and is longer than 0. */
function durationProblems(text: string | undefined, field: string): string[] {
  if (text === undefined) return [`${field}: required, e.g. 10m`];
  try {
    if (parseDuration(text) <= 0) return [`${field}: must be longer than 0`];
  } catch (err) {
    return [`${field}: ${errorMessage(err)}`];
  }
  return [];
}

function checksProblems(checks: readonly Check[] | undefined, field: string): string[] {
  if (!checks || checks.length === 0) return [`${field}: give at least one check`];
  return validateChecks(checks, field);
}

export function validateHold(step: Step): string[] {
  const missing = validateParamsPresent(step, 'hold');
  if (missing.length) return missing;
  const p = step.hold!;
  const out = durationProblems(p.duration, 'hold.duration');
  let durationMs: number | undefined;
  if (out.length === 0) durationMs = parseDuration(p.duration);
  out.push(...intervalProblems(p.interval, 'hold.interval', durationMs));
  out.push(...checksProblems(p.checks, 'hold.checks'));
  if (durationMs !== undefined && step.timeout !== undefined) {
    try {
      if (parseDuration(step.timeout) <= durationMs)
        out.push(`timeout: must be longer than hold.duration (${p.duration}), or left out`);
    } catch {
      // The step's own timeout problem is reported by the step's validation.
    }
  }
  return out;
}

export function validateWaitUntil(step: Step): string[] {
  const missing = validateParamsPresent(step, 'waitUntil');
  if (missing.length) return missing;
  const p = step.waitUntil!;
  return [
    ...intervalProblems(p.interval, 'waitUntil.interval'),
    ...checksProblems(p.checks, 'waitUntil.checks'),
  ];
}

/** The hold's duration and interval, from a validated step. */
export function holdTiming(p: NonNullable<Step['hold']>): { durationMs: number; intervalMs: number } {
  return {
    durationMs: parseDuration(p.duration),
    intervalMs: p.interval ? parseDuration(p.interval) : DEFAULT_HOLD_INTERVAL_MS,
  };
}

/** A hold's step timeout: the step's own, else its duration plus slack for the looks. */
export function holdTimeoutMs(step: Step): number | undefined {
  if (step.action !== 'hold' || !step.hold || step.timeout) return undefined;
  try {
    return holdTiming(step.hold).durationMs + HOLD_TIMEOUT_SLACK_MS;
  } catch {
    return undefined;
  }
}

async function applyHold(ctx: ActionContext, record: StepStatus): Promise<ActionOutcome> {
  const p = requireParams(ctx, 'hold');
  if (isFailed(p)) return p;
  const { durationMs, intervalMs } = holdTiming(p);
  const evals = await evaluateAll(p.checks, ctx);
  if (ctx.dryRun) {
    // A dry run looks once and does not wait out the duration.
    const bad = notPassing(evals);
    const output = evaluationsOutput(evals);
    return bad.length
      ? failed(ERROR_CODES.actionFailed, 'HoldCheckFailed', `dry run: ${describe(bad)}`, false, output)
      : done(`dry run: every check passes now; would hold ${formatDuration(durationMs)}`, { output });
  }
  const nowMs = ctx.clock.now().getTime();
  // The checkpoint has whole seconds: count from the latest instant it may stand for, so that a
  // hold never ends early (it may last up to a second longer).
  const startedAtMs = record.startedAt ? Date.parse(record.startedAt) + 999 : nowMs;
  return holdVerdict(evals, { startedAtMs, nowMs, durationMs, intervalMs });
}

async function applyWaitUntil(ctx: ActionContext, _record: StepStatus): Promise<ActionOutcome> {
  const p = requireParams(ctx, 'waitUntil');
  if (isFailed(p)) return p;
  const intervalMs = p.interval ? parseDuration(p.interval) : DEFAULT_WAIT_INTERVAL_MS;
  const v = waitVerdict(await evaluateAll(p.checks, ctx), intervalMs);
  if (ctx.dryRun && v.kind === 'inProgress') return done(`dry run: not passing now (${v.message})`);
  return v;
}

export const hold: Action = {
  name: 'hold',
  mutating: false,
  reversible: false,
  validate: validateHold,
  plan: (): Promise<Plan> => Promise.resolve({}),
  apply: applyHold,
};

export const waitUntil: Action = {
  name: 'waitUntil',
  mutating: false,
  reversible: false,
  validate: validateWaitUntil,
  plan: (): Promise<Plan> => Promise.resolve({}),
  apply: applyWaitUntil,
};
