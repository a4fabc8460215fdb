/**
 * httpCall: one request to a service. The far side cannot carry our stamp on an object, so a
 * crash right after sending may repeat the call: the request carries the stamp as its
 * `Idempotency-Key` header for receivers that honour it; keep other endpoints idempotent.
 */
import type { Action, ActionContext, ActionOutcome, Plan } from '../types.js';
import type { Step, StepStatus } from '../../api/v1alpha1/schema.js';
import { done, isFailed } from '../outcome.js';
import { requireParams, validateParamsPresent } from '../step-input.js';
import { callFailure, skippedInDryRun } from '../services/replies.js';
import { httpRequest, statusExpected, withIdempotencyKey, type HttpReply } from '../services/http.js';
import { redactUrl } from '../services/url.js';
import { validateUrlField } from '../services/url.js';

export function validateHttpCall(step: Step): string[] {
  const missing = validateParamsPresent(step, 'httpCall');
  if (missing.length) return missing;
  const p = step.httpCall!;
  const errors = validateUrlField(p.url, 'httpCall.url');
  if (p.body !== undefined && (p.method === 'GET' || p.method === 'DELETE'))
    errors.push(`httpCall.body: a ${p.method} request carries no body`);
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
  if (!statusExpected(reply.status, p.expectStatus))
    return callFailure(what, reply, undefined, p.expectStatus);
  return done(`${what} returned ${reply.status}`, { after: { status: reply.status } });
}

export const httpCall: Action = {
  name: 'httpCall',
  mutating: true,
  reversible: false,
  validate: validateHttpCall,
  plan: (): Promise<Plan> => Promise.resolve({}),
  apply,
};
