/** httpCheck: passes when the response has an expected status (and text); waits otherwise. */
import type { Action, ActionContext, ActionOutcome, Plan } from '../types.js';
import type { Step, StepStatus } from '../../api/v1alpha1/schema.js';
import { errorMessage } from '../../util/errors.js';
import { done, inProgress, isFailed } from '../outcome.js';
import { requireParams, validateParamsPresent } from '../step-input.js';
import { CHECK_POLL_MS } from '../services/replies.js';
import { expectedText, httpRequest, statusExpected, type HttpReply } from '../services/http.js';
import { redactUrl, validateUrlField } from '../services/url.js';

export interface HttpCheckParams {
  url: string;
  method?: string;
  expectStatus?: number[];
  bodyContains?: string;
}

/** Why the reply does not pass, or undefined when it does (pure). */
export function httpCheckProblem(reply: HttpReply, p: HttpCheckParams): string | undefined {
  if (!statusExpected(reply.status, p.expectStatus))
    return `status ${reply.status}, expected ${expectedText(p.expectStatus)}`;
  if (p.bodyContains !== undefined && !reply.body.includes(p.bodyContains))
    return `body does not contain "${p.bodyContains}"`;
  return undefined;
}

export function validateHttpCheck(step: Step): string[] {
  const missing = validateParamsPresent(step, 'httpCheck');
  return missing.length ? missing : validateUrlField(step.httpCheck!.url, 'httpCheck.url');
}

async function apply(ctx: ActionContext, _record: StepStatus): Promise<ActionOutcome> {
  const p = requireParams(ctx, 'httpCheck');
  if (isFailed(p)) return p;
  const method = p.method ?? 'GET';
  const what = `${method} ${redactUrl(p.url)}`;
  let reply: HttpReply;
  try {
    reply = await httpRequest(p.url, { method });
  } catch (err) {
    return inProgress(`${what}: ${errorMessage(err)}`, CHECK_POLL_MS);
  }
  const problem = httpCheckProblem(reply, p);
  if (problem) return inProgress(`${what}: ${problem}`, CHECK_POLL_MS);
  return done(`${what} returned ${reply.status}`);
}

export const httpCheck: Action = {
  name: 'httpCheck',
  mutating: false,
  reversible: false,
  validate: validateHttpCheck,
  plan: (): Promise<Plan> => Promise.resolve({}),
  apply,
};
