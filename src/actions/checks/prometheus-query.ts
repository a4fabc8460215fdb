/**
 * prometheusQuery: an instant query (or a ratio of two) whose every sample must satisfy
 * `expect`. What an empty result means is the check's to say (`noData`): NaN samples, such as
 * the 0/0 of an error rate without traffic, count as absent. Like the other checks a step
 * waits until it holds; the step timeout bounds it.
 */
import type { Action, ActionContext, ActionOutcome, Plan } from '../types.js';
import type { NoDataMeaning, PrometheusQueryParams, Step, StepStatus } from '../../api/v1alpha1/schema.js';
import { NO_DATA_MEANINGS } from '../../api/v1alpha1/schema.js';
import { ERROR_CODES, errorMessage } from '../../util/errors.js';
import { failed, isFailed } from '../outcome.js';
import { requireParams, validateParamsPresent } from '../step-input.js';
import { httpRequest, type HttpReply } from '../services/http.js';
import { redactUrl, validateUrlField } from '../services/url.js';
import type { StepOutput } from '../output.js';
import {
  broken,
  met,
  notMet,
  stepOutcome,
  troubled,
  STEP_READ,
  type ReadOptions,
  type Reading,
} from './reading.js';

export type CompareOp = '<' | '<=' | '==' | '!=' | '>=' | '>';

export interface Sample {
  labels: Record<string, string>;
  value: number;
}

const COMPARE: Record<CompareOp, (a: number, b: number) => boolean> = {
  '<': (a, b) => a < b,
  '<=': (a, b) => a <= b,
  '==': (a, b) => a === b,
  '!=': (a, b) => a !== b,
  '>=': (a, b) => a >= b,
  '>': (a, b) => a > b,
};

/** Samples recorded in `output` at most. */
const RECORDED_SAMPLES = 10;

/** A sample value as Prometheus writes it: a float, or `NaN`, `+Inf`, `-Inf` (pure). */
export function parsePromValue(text: string): number {
  if (text === '+Inf' || text === 'Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  return Number(text);
}

/** The samples of an instant-query answer (`data` of /api/v1/query); throws on other shapes. */
export function samplesOf(data: unknown): Sample[] {
  const d = data as { resultType?: string; result?: unknown };
  if (d.resultType === 'scalar')
    return [{ labels: {}, value: parsePromValue((d.result as [number, string])[1]) }];
  if (d.resultType === 'vector') {
    return (d.result as { metric?: Record<string, string>; value: [number, string] }[]).map((s) => ({
      labels: s.metric ?? {},
      value: parsePromValue(s.value[1]),
    }));
  }
  throw new Error(
    `result type ${String(d.resultType)} is not supported: use an instant vector or scalar query`,
  );
}

/**
 * The PromQL of a ratio (pure): a numerator series that is missing where the denominator has
 * one counts as 0 (`or 0 * D`, matched on the same labels), and a zero denominator is dropped
 * (`!= 0`), so that it reads as no data rather than as NaN or +Inf.
 */
export function ratioQuery(r: { numerator: string; denominator: string }): string {
  return `((${r.numerator}) or (0 * (${r.denominator}))) / ((${r.denominator}) != 0)`;
}

/** The query the check sends. */
export function promQueryOf(p: Pick<PrometheusQueryParams, 'query' | 'ratio'>): string {
  return p.ratio ? ratioQuery(p.ratio) : (p.query ?? '');
}

function describeSample(s: Sample): string {
  const labels = Object.entries(s.labels)
    .map(([k, v]) => `${k}="${v}"`)
    .join(',');
  return `${labels ? `{${labels}} ` : ''}${s.value}`;
}

/** Whether every sample satisfies `value op expect.value`, with the reason when not (pure). */
export function compareSamples(
  samples: readonly Sample[],
  expect: { op: CompareOp; value: number } | undefined,
): { pass: boolean; message: string } {
  if (!expect) return { pass: true, message: `${samples.length} sample(s)` };
  if (samples.length === 0)
    return { pass: false, message: `no samples, expected every sample ${expect.op} ${expect.value}` };
  const bad = samples.find((s) => !COMPARE[expect.op](s.value, expect.value));
  if (bad)
    return { pass: false, message: `sample ${describeSample(bad)} is not ${expect.op} ${expect.value}` };
  return { pass: true, message: `all ${samples.length} sample(s) ${expect.op} ${expect.value}` };
}

export interface SampleVerdict {
  result: 'Met' | 'NotMet';
  /** NotMet for good (noData: Fail): looking again will not change it. */
  settled: boolean;
  message: string;
}

/**
 * The verdict on an answer (pure): NaN samples count as absent; no sample left is no data,
 * which means what `noData` says; otherwise every sample must satisfy `expect`.
 */
export function judgeSamples(
  samples: readonly Sample[],
  expect: { op: CompareOp; value: number } | undefined,
  noData: NoDataMeaning,
): SampleVerdict {
  const real = samples.filter((s) => !Number.isNaN(s.value));
  if (real.length === 0) {
    const seen = samples.length ? `only NaN (${samples.length} sample(s))` : 'no samples';
    switch (noData) {
      case 'Pass':
        return { result: 'Met', settled: false, message: `${seen}: no data, which passes (noData: Pass)` };
      case 'Fail':
        return { result: 'NotMet', settled: true, message: `${seen}: no data, which fails (noData: Fail)` };
      case 'Wait':
        return { result: 'NotMet', settled: false, message: `${seen}: no data yet (noData: Wait)` };
    }
  }
  const { pass, message } = compareSamples(real, expect);
  return { result: pass ? 'Met' : 'NotMet', settled: false, message };
}

function recordedValue(v: number): number | string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return v;
}

/** What the look read, for the record: the first samples (pure). */
export function samplesOutput(samples: readonly Sample[]): StepOutput {
  return {
    samples: samples
      .slice(0, RECORDED_SAMPLES)
      .map((s) => ({ labels: s.labels, value: recordedValue(s.value) })),
    ...(samples.length > RECORDED_SAMPLES ? { sampleCount: samples.length, truncated: true } : {}),
  };
}

/** The parameters' problems, as `prometheusQuery.<field>: ...` (steps and checks alike). */
export function prometheusQueryProblems(p: PrometheusQueryParams): string[] {
  const errors = validateUrlField(p.url, 'prometheusQuery.url');
  const hasQuery = p.query !== undefined;
  if (hasQuery && p.ratio) errors.push('prometheusQuery: give query or ratio, not both');
  else if (!p.ratio && !p.query?.trim())
    errors.push('prometheusQuery.query: give a PromQL query (or a ratio)');
  if (p.ratio && !p.ratio.numerator?.trim())
    errors.push('prometheusQuery.ratio.numerator: give the PromQL of the part');
  if (p.ratio && !p.ratio.denominator?.trim())
    errors.push('prometheusQuery.ratio.denominator: give the PromQL of the whole');
  if (p.expect && !(p.expect.op in COMPARE))
    errors.push(`prometheusQuery.expect.op: must be one of ${Object.keys(COMPARE).join(' ')}`);
  if (p.noData !== undefined && !(NO_DATA_MEANINGS as readonly string[]).includes(p.noData))
    errors.push(`prometheusQuery.noData: must be one of ${NO_DATA_MEANINGS.join(', ')}`);
  return errors;
}

export function validatePrometheusQuery(step: Step): string[] {
  const missing = validateParamsPresent(step, 'prometheusQuery');
  return missing.length ? missing : prometheusQueryProblems(step.prometheusQuery!);
}

function queryUrl(base: string, query: string): string {
  return `${base.replace(/\/+$/, '')}/api/v1/query?query=${encodeURIComponent(query)}`;
}

/** One look: the instant query and the verdict on its samples. */
export async function readPrometheus(p: PrometheusQueryParams, opts: ReadOptions): Promise<Reading> {
  const query = promQueryOf(p);
  const what = `query ${JSON.stringify(p.query ?? query)} on ${redactUrl(p.url)}`;
  let reply: HttpReply;
  try {
    reply = await httpRequest(queryUrl(p.url, query), { method: 'GET' }, opts.timeoutMs);
  } catch (err) {
    return troubled(`${what}: ${errorMessage(err)}`);
  }
  // 400 and 422 are Prometheus saying the query itself is wrong: waiting will not fix it.
  if (reply.status === 400 || reply.status === 422) {
    return broken(
      failed(
        ERROR_CODES.invalidParam,
        'InvalidQuery',
        `${what} was rejected: ${reply.body.slice(0, 300)}`,
        false,
      ),
    );
  }
  if (reply.status !== 200) return troubled(`${what}: status ${reply.status}`);
  let samples: Sample[];
  try {
    samples = samplesOf((JSON.parse(reply.body) as { data?: unknown }).data);
  } catch (err) {
    return broken(failed(ERROR_CODES.invalidParam, 'InvalidQuery', `${what}: ${errorMessage(err)}`, false));
  }
  const verdict = judgeSamples(samples, p.expect, p.noData ?? opts.noData);
  const output = samplesOutput(samples);
  if (verdict.result === 'Met') return met(`${what}: ${verdict.message}`, output);
  return notMet(`${what}: ${verdict.message}`, output, verdict.settled ? 'NoData' : undefined);
}

async function apply(ctx: ActionContext, _record: StepStatus): Promise<ActionOutcome> {
  const p = requireParams(ctx, 'prometheusQuery');
  if (isFailed(p)) return p;
  return stepOutcome(await readPrometheus(p, STEP_READ));
}

export const prometheusQuery: Action = {
  name: 'prometheusQuery',
  mutating: false,
  reversible: false,
  validate: validatePrometheusQuery,
  plan: (): Promise<Plan> => Promise.resolve({}),
  apply,
};
