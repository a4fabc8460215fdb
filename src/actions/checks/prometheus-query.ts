/**
 * prometheusQuery: an instant query whose every sample must satisfy `expect` (and there must
 * be at least one). Like the other checks it waits until it holds; the step timeout bounds it.
 */
import type { Action, ActionContext, ActionOutcome, Plan } from '../types.js';
import type { Step, StepStatus } from '../../api/v1alpha1/schema.js';
import { ERROR_CODES, errorMessage } from '../../util/errors.js';
import { done, failed, inProgress, isFailed } from '../outcome.js';
import { requireParams, validateParamsPresent } from '../step-input.js';
import { CHECK_POLL_MS } from '../services/replies.js';
import { httpRequest, type HttpReply } from '../services/http.js';
import { redactUrl } from '../services/url.js';
import { validateUrlField } from '../services/url.js';

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

/** The samples of an instant-query answer (`data` of /api/v1/query); throws on other shapes. */
export function samplesOf(data: unknown): Sample[] {
  const d = data as { resultType?: string; result?: unknown };
  if (d.resultType === 'scalar') return [{ labels: {}, value: Number((d.result as [number, string])[1]) }];
  if (d.resultType === 'vector') {
    return (d.result as { metric?: Record<string, string>; value: [number, string] }[]).map((s) => ({
      labels: s.metric ?? {},
      value: Number(s.value[1]),
    }));
  }
  throw new Error(
    `result type ${String(d.resultType)} is not supported: use an instant vector or scalar query`,
  );
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

export function validatePrometheusQuery(step: Step): string[] {
  const missing = validateParamsPresent(step, 'prometheusQuery');
  if (missing.length) return missing;
  const p = step.prometheusQuery!;
  const errors = validateUrlField(p.url, 'prometheusQuery.url');
  if (!p.query?.trim()) errors.push('prometheusQuery.query: give a PromQL query');
  if (p.expect && !(p.expect.op in COMPARE))
    errors.push(`prometheusQuery.expect.op: must be one of ${Object.keys(COMPARE).join(' ')}`);
  return errors;
}

function queryUrl(base: string, query: string): string {
  return `${base.replace(/\/+$/, '')}/api/v1/query?query=${encodeURIComponent(query)}`;
}

async function apply(ctx: ActionContext, _record: StepStatus): Promise<ActionOutcome> {
  const p = requireParams(ctx, 'prometheusQuery');
  if (isFailed(p)) return p;
  const what = `query ${JSON.stringify(p.query)} on ${redactUrl(p.url)}`;
  let reply: HttpReply;
  try {
    reply = await httpRequest(queryUrl(p.url, p.query), { method: 'GET' });
  } catch (err) {
    return inProgress(`${what}: ${errorMessage(err)}`, CHECK_POLL_MS);
  }
  // 400 and 422 are Prometheus saying the query itself is wrong: waiting will not fix it.
  if (reply.status === 400 || reply.status === 422) {
    return failed(
      ERROR_CODES.invalidParam,
      'InvalidQuery',
      `${what} was rejected: ${reply.body.slice(0, 300)}`,
      false,
    );
  }
  if (reply.status !== 200) return inProgress(`${what}: status ${reply.status}`, CHECK_POLL_MS);
  let samples: Sample[];
  try {
    samples = samplesOf((JSON.parse(reply.body) as { data?: unknown }).data);
  } catch (err) {
    return failed(ERROR_CODES.invalidParam, 'InvalidQuery', `${what}: ${errorMessage(err)}`, false);
  }
  const verdict = compareSamples(samples, p.expect);
  return verdict.pass
    ? done(`${what}: ${verdict.message}`)
    : inProgress(`${what}: ${verdict.message}`, CHECK_POLL_MS);
}

export const prometheusQuery: Action = {
  name: 'prometheusQuery',
  mutating: false,
  reversible: false,
  validate: validatePrometheusQuery,
  plan: (): Promise<Plan> => Promise.resolve({}),
  apply,
};
