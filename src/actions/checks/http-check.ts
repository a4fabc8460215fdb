/** httpCheck: passes when the response has an expected status (and text); waits otherwise. */
import type { Action, ActionContext, ActionOutcome, Plan } from '../types.js';
import type { HttpCheckParams, Step, StepStatus } from '../../api/v1alpha1/schema.js';
import { errorMessage } from '../../util/errors.js';
import { isFailed } from '../outcome.js';
import { requireParams, validateParamsPresent } from '../step-input.js';
import { expectedText, httpRequest, statusExpected, type HttpReply } from '../services/http.js';
import { redactUrl, validateUrlField } from '../services/url.js';
import { met, notMet, stepOutcome, troubled, STEP_READ, type ReadOptions, type Reading } from './reading.js';

/** Why the reply does not pass, or undefined when it does (pure). */
export function httpCheckProblem(reply: HttpReply, p: HttpCheckParams): string | undefined {
  if (!statusExpected(reply.status, p.expectStatus))
    return `status ${reply.status}, expected ${expectedText(p.expectStatus)}`;
  if (p.bodyContains !== undefined && !reply.body.includes(p.bodyContains))
    return `body does not contain "${p.bodyContains}"`;
  return undefined;
}

/** The parameters' problems, as `httpCheck.<field>: ...` (steps and checks alike). */
export function httpCheckProblems(p: HttpCheckParams): string[] {
  return validateUrlField(p.url, 'httpCheck.url');
}

export function validateHttpCheck(step: Step): string[] {
  const missing = validateParamsPresent(step, 'httpCheck');
  return missing.length ? missing : httpCheckProblems(step.httpCheck!);
}

/** One look: the request and whether the response passes. */
export async function readHttp(p: HttpCheckParams, opts: ReadOptions): Promise<Reading> {
  const method = p.method ?? 'GET';
  const what = `${method} ${redactUrl(p.url)}`;
  let reply: HttpReply;
  try {
    reply = await httpRequest(p.url, { method }, opts.timeoutMs);
  } catch (err) {
    return troubled(`${what}: ${errorMessage(err)}`);
  }
  const problem = httpCheckProblem(reply, p);
  return problem ? notMet(`${what}: ${problem}`) : met(`${what} returned ${reply.status}`);
}

async function apply(ctx: ActionContext, _record: StepStatus): Promise<ActionOutcome> {
  const p = requireParams(ctx, 'httpCheck');
  if (isFailed(p)) return p;
  return stepOutcome(await readHttp(p, STEP_READ));
}

export const httpCheck: Action = {
  name: 'httpCheck',
  mutating: false,
  reversible: false,
  validate: validateHttpCheck,
  plan: (): Promise<Plan> => Promise.resolve({}),
  apply,
};
