/**
 * redisCheck: passes when a command (default PING) answers as expected; waits otherwise.
 *
 * A check runs on every poll and in dry runs too, so it may only read: the command must be
 * one of READ_ONLY_COMMANDS (checked in validate() and again before it is sent). Writes belong
 * to redisCommand.
 */

import type { Action, ActionContext, ActionOutcome, Plan } from '../types.js';
import type { RedisCheckParams, Step, StepStatus } from '../../api/v1alpha1/schema.js';
import { ERROR_CODES, errorMessage } from '../../util/errors.js';
import { failed, isFailed } from '../outcome.js';
import { requireParams, validateParamsPresent } from '../step-input.js';
import { replyText } from '../services/replies.js';
import { redactUrl, requireUrl, resolveUrl } from '../services/url.js';
import { runRedis, validateRedisUrl } from '../services/redis.js';
import { recordedText, type StepOutput } from '../output.js';
import {
  broken,
  met,
  notMet,
  stepOutcome,
  troubled,
  STEP_READ,
  type CheckContext,
  type ReadOptions,
  type Reading,
} from './reading.js';
import { quoted, textProblem, validateTextExpect } from './text-expect.js';

/**
 * Commands that only read (no writes, no scripts, no admin side effects, no whole-keyspace
 * walks such as KEYS). PFCOUNT may write its cache and SORT may STORE, so they are not here.
 */
export const READ_ONLY_COMMANDS: ReadonlySet<string> = new Set([
  'PING',
  'ECHO',
  'TIME',
  'INFO',
  'DBSIZE',
  'LASTSAVE',
  'EXISTS',
  'TYPE',
  'TTL',
  'PTTL',
  'EXPIRETIME',
  'PEXPIRETIME',
  'GET',
  'MGET',
  'STRLEN',
  'GETRANGE',
  'GETBIT',
  'BITCOUNT',
  'BITPOS',
  'HGET',
  'HMGET',
  'HEXISTS',
  'HLEN',
  'HSTRLEN',
  'HKEYS',
  'HVALS',
  'HGETALL',
  'LLEN',
  'LINDEX',
  'LRANGE',
  'LPOS',
  'SCARD',
  'SISMEMBER',
  'SMISMEMBER',
  'SMEMBERS',
  'ZCARD',
  'ZSCORE',
  'ZMSCORE',
  'ZRANK',
  'ZREVRANK',
  'ZCOUNT',
  'ZLEXCOUNT',
  'ZRANGE',
  'XLEN',
  'XPENDING',
  'XINFO',
]);

/** Why `command` may not be a check, or undefined when it only reads. */
export function notReadOnly(command: readonly string[] | undefined): string | undefined {
  const name = (command?.[0] ?? 'PING').toUpperCase();
  if (READ_ONLY_COMMANDS.has(name)) return undefined;
  return `redisCheck.command: ${name} is not a read-only command; a check runs on every poll and in dry runs, so it may only read (e.g. PING, GET, EXISTS, LLEN, SCARD, ZCARD, HGET, TTL, INFO). Use the redisCommand action for writes`;
}

/** The parameters' problems, as `redisCheck.<field>: ...` (steps and checks alike). */
export function redisCheckProblems(p: RedisCheckParams): string[] {
  const errors = validateRedisUrl(p, 'redisCheck');
  if (p.command?.length === 0) errors.push('redisCheck.command: must not be empty (omit it for PING)');
  else {
    const refused = notReadOnly(p.command);
    if (refused) errors.push(refused);
  }
  return [...errors, ...validateTextExpect(p, 'redisCheck')];
}

export function validateRedisCheck(step: Step): string[] {
  const missing = validateParamsPresent(step, 'redisCheck');
  return missing.length ? missing : redisCheckProblems(step.redisCheck!);
}

/** The reply as recorded with `record: true`. */
function replyOutput(reply: string): StepOutput {
  const { text, truncated } = recordedText(reply);
  return { reply: text, ...(truncated ? { truncated: true } : {}) };
}

/** One look: the command, its reply, and whether the reply is as expected. */
export async function readRedis(ctx: CheckContext, p: RedisCheckParams, opts: ReadOptions): Promise<Reading> {
  const url = requireUrl(await resolveUrl(ctx, p, 'redisCheck'), 'redisCheck');
  if (isFailed(url)) return broken(url);
  const command = p.command?.length ? p.command : ['PING'];
  const refused = notReadOnly(command);
  if (refused) return broken(failed(ERROR_CODES.actionRefused, 'NotReadOnly', refused, false));
  const what = `${command[0]} on ${redactUrl(url)}`;
  let reply: string;
  try {
    reply = replyText(await runRedis(url, command, opts.timeoutMs));
  } catch (err) {
    return troubled(`${what}: ${errorMessage(err)}`);
  }
  const output = p.record ? replyOutput(reply) : undefined;
  const expect =
    p.expect ?? (command.length === 1 && command[0]!.toUpperCase() === 'PING' ? 'PONG' : undefined);
  const problem = textProblem(reply, { ...p, expect });
  return problem ? notMet(`${what} ${problem}`, output) : met(`${what} answered ${quoted(reply)}`, output);
}

async function apply(ctx: ActionContext, _record: StepStatus): Promise<ActionOutcome> {
  const p = requireParams(ctx, 'redisCheck');
  if (isFailed(p)) return p;
  return stepOutcome(await readRedis(ctx, p, STEP_READ));
}

export const redisCheck: Action = {
  name: 'redisCheck',
  mutating: false,
  reversible: false,
  validate: validateRedisCheck,
  plan: (): Promise<Plan> => Promise.resolve({}),
  apply,
};
