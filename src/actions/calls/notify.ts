/**
 * notify: posts `{text}` to a Slack-compatible webhook when one is configured. Without one the
 * step is done with the message, which the Event of the run's end carries (ADR 0026).
 */
import type { Action, ActionContext, ActionOutcome, Plan } from '../types.js';
import type { Step, StepStatus } from '../../api/v1alpha1/schema.js';
import { done, isFailed } from '../outcome.js';
import { requireParams, validateParamsPresent } from '../step-input.js';
import { callFailure, skippedInDryRun } from '../services/replies.js';
import { httpRequest, withIdempotencyKey, statusExpected, type HttpReply } from '../services/http.js';
import { redactUrl, resolveUrl } from '../services/url.js';
import { validateUrlField } from '../services/url.js';

export function validateNotify(step: Step): string[] {
  const missing = validateParamsPresent(step, 'notify');
  if (missing.length) return missing;
  const p = step.notify!;
  const errors = p.url !== undefined ? validateUrlField(p.url, 'notify.url') : [];
  if (!p.message?.trim()) errors.push('notify.message: give the text to send');
  return errors;
}

async function apply(ctx: ActionContext, _record: StepStatus): Promise<ActionOutcome> {
  const p = requireParams(ctx, 'notify');
  if (isFailed(p)) return p;
  const url = await resolveUrl(ctx, p, 'notify');
  if (isFailed(url)) return url;
  if (url === undefined) return done(p.message);
  const what = `POST ${redactUrl(url)}`;
  if (ctx.dryRun)
    return skippedInDryRun(`send ${what}: ${p.message.slice(0, 200)}`, {
      url: redactUrl(url),
      body: { text: p.message },
    });
  let reply: HttpReply;
  try {
    reply = await httpRequest(url, {
      method: 'POST',
      headers: withIdempotencyKey({ 'content-type': 'application/json' }, ctx.stamp),
      body: JSON.stringify({ text: p.message }),
    });
  } catch (err) {
    return callFailure(`notification ${what}`, undefined, err);
  }
  if (!statusExpected(reply.status, undefined)) return callFailure(`notification ${what}`, reply);
  return done(`sent notification to ${redactUrl(url)}: ${p.message}`);
}

export const notify: Action = {
  name: 'notify',
  mutating: true,
  reversible: false,
  validate: validateNotify,
  plan: (): Promise<Plan> => Promise.resolve({}),
  apply,
};
