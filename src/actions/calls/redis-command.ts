/** redisCommand: runs one command, e.g. `DEL dash:queue:dead`. Skipped in a dry run. */
import type { Action, ActionContext, ActionOutcome, Plan } from '../types.js';
import type { Step, StepStatus } from '../../api/v1alpha1/schema.js';
import { ERROR_CODES, errorMessage } from '../../util/errors.js';
import { done, failed, isFailed } from '../outcome.js';
import { requireParams, validateParamsPresent } from '../step-input.js';
import { callFailure, replyText, skippedInDryRun } from '../services/replies.js';
import { redactUrl, requireUrl, resolveUrl } from '../services/url.js';
import { runRedis, validateRedisUrl } from '../services/redis.js';

export function validateRedisCommand(step: Step): string[] {
  const missing = validateParamsPresent(step, 'redisCommand');
  if (missing.length) return missing;
  const errors = validateRedisUrl(step.redisCommand, 'redisCommand');
  if (!step.redisCommand!.command?.length)
    errors.push('redisCommand.command: give the command and its arguments, e.g. [DEL, key]');
  return errors;
}

async function apply(ctx: ActionContext, _record: StepStatus): Promise<ActionOutcome> {
  const p = requireParams(ctx, 'redisCommand');
  if (isFailed(p)) return p;
  const url = requireUrl(await resolveUrl(ctx, p, 'redisCommand'), 'redisCommand');
  if (isFailed(url)) return url;
  const what = `${p.command.join(' ')} on ${redactUrl(url)}`;
  if (ctx.dryRun) return skippedInDryRun(`run ${what}`, { url: redactUrl(url), command: p.command });
  try {
    const reply = replyText(await runRedis(url, p.command));
    return done(`${what} answered "${reply.slice(0, 200)}"`, { after: { reply: reply.slice(0, 1024) } });
  } catch (err) {
    // Redis answered with an error (wrong type, unknown command): repeating will not help.
    if ((err as { name?: unknown } | null)?.name === 'ReplyError') {
      return failed(ERROR_CODES.actionFailed, 'CommandError', `${what} failed: ${errorMessage(err)}`, false);
    }
    return callFailure(what, undefined, err);
  }
}

export const redisCommand: Action = {
  name: 'redisCommand',
  mutating: true,
  reversible: false,
  validate: validateRedisCommand,
  plan: (): Promise<Plan> => Promise.resolve({}),
  apply,
};
