/**
 * httpCall: one request to a service. The far side cannot carry our stamp on an object, so a
 * crash right after sending may repeat the call: the request carries the stamp as its
 * `Idempotency-Key` header for receivers that honour it; keep other endpoints idempotent.
 *
 * With `expect`, the call succeeds only when the response is as expected (status, JSON fields,
 * text), and the response is recorded in `output` for the person who looks later.
 */
import type { Action, ActionContext, ActionOutcome, Plan } from '../types.js';
import type { Step, StepStatus } from '../../api/v1alpha1/schema.js';
import { ERROR_CODES, errorMessage } from '../../util/errors.js';
import { done, failed, isFailed } from '../outcome.js';
import { requireParams, validateParamsPresent } from '../step-input.js';
import { callFailure, skippedInDryRun } from '../services/replies.js';
import {
  expectedText,
  httpRequest,
  statusExpected,
  withIdempotencyKey,
  type HttpReply,
} from '../services/http.js';
import { redactUrl, validateUrlField } from '../services/url.js';
import { jsonText, parseJsonPath, selectJsonPath } from '../services/json-path.js';
import { recordedText, type StepOutput } from '../output.js';

type HttpCallParams = NonNullable<Step['httpCall']>;
export type HttpExpect = NonNullable<HttpCallParams['expect']>;

/** Why a response with an expected status is still not the expected one, or undefined (pure). */
export function responseProblem(body: string, expect: HttpExpect | undefined): string | undefined {
  if (expect?.bodyContains !== undefined && !body.includes(expect.bodyContains))
    return `the body does not contain "${expect.bodyContains}"`;
  if (!expect?.json?.length) return undefined;
  let doc: unknown;
  try {
    doc = JSON.parse(body);
  } catch (err) {
    return `the body is not JSON (${errorMessage(err)})`;
  }
  for (const { path, equals } of expect.json) {
    const hit = selectJsonPath(doc, parseJsonPath(path));
    if (!hit.found) return `${path} is absent, expected "${equals}"`;
    const text = jsonText(hit.value);
    if (text !== equals) return `${path} is ${JSON.stringify(text.slice(0, 200))}, expected "${equals}"`;
  }
  return undefined;
}

/** The response as recorded: the status, and with `expect` the start of the body, masked. */
export function responseOutput(reply: HttpReply, withBody: boolean): StepOutput {
  if (!withBody) return { status: reply.status };
  const { text, truncated } = recordedText(reply.body);
  return { status: reply.status, body: text, ...(truncated ? { truncated: true } : {}) };
}

export function validateHttpCall(step: Step): string[] {
  const missing = validateParamsPresent(step, 'httpCall');
  if (missing.length) return missing;
  const p = step.httpCall!;
  const errors = validateUrlField(p.url, 'httpCall.url');
  if (p.body !== undefined && (p.method === 'GET' || p.method === 'DELETE'))
    errors.push(`httpCall.body: a ${p.method} request carries no body`);
  if (p.expectStatus?.length && p.expect?.status?.length)
    errors.push('httpCall.expect.status: give the statuses here or in httpCall.expectStatus, not both');
  p.expect?.json?.forEach((a, i) => {
    try {
      parseJsonPath(a.path);
    } catch (err) {
      errors.push(`httpCall.expect.json[${i}].path: ${errorMessage(err)}`);
    }
  });
  return errors;
}

async function apply(ctx: ActionContext, _record: StepStatus): Promise<ActionOutcome> {
  const p = requireParams(ctx, 'httpCall');
  if (isFailed(p)) return p;
  const method = p.method ?? 'POST';
  const what = `${method} ${redactUrl(p.url)}`;
  if (ctx.dryRun)
    return skippedInDryRun(`send ${what}${p.body ? ` with a ${p.body.length}-byte body` : ''}`, {
      method,
      url: redactUrl(p.url),
      body: p.body,
    });
  let reply: HttpReply;
  try {
    reply = await httpRequest(p.url, {
      method,
      headers: withIdempotencyKey(p.headers, ctx.stamp),
      body: p.body,
    });
  } catch (err) {
    return callFailure(what, undefined, err);
  }
  const output = responseOutput(reply, p.expect !== undefined);
  const statuses = p.expect?.status ?? p.expectStatus;
  if (!statusExpected(reply.status, statuses))
    return { ...callFailure(what, reply, undefined, statuses), output };
  const problem = responseProblem(reply.body, p.expect);
  if (problem)
    return failed(
      ERROR_CODES.actionFailed,
      'UnexpectedResponse',
      `${what} returned ${reply.status}, but ${problem}`,
      false,
      output,
    );
  const as = p.expect
    ? `, as expected (${expectedText(statuses)}${p.expect.json || p.expect.bodyContains ? ', body' : ''})`
    : '';
  return done(`${what} returned ${reply.status}${as}`, { after: { status: reply.status }, output });
}

export const httpCall: Action = {
  name: 'httpCall',
  mutating: true,
  reversible: false,
  validate: validateHttpCall,
  plan: (): Promise<Plan> => Promise.resolve({}),
  apply,
};
