/**
 * What checks and calls to outside services share: deadlines, polling, failures and reply
 * text.
 */
import type { ActionOutcome } from '../types.js';
import { ERROR_CODES, errorMessage } from '../../util/errors.js';
import { done, failed, type Failed } from '../outcome.js';
import { expectedText, type HttpReply } from './http.js';
import { maskSecrets } from '../output.js';

/** How long a check or call to an outside service may take. */
export const EXTERNAL_TIMEOUT_MS = 10_000;

/** Checks poll more slowly than rollouts: each poll costs the service a request. */
export const CHECK_POLL_MS = 5000;

/** A failed call: 5xx, 429 and unreachable pass with time; other statuses need a person. */
export function callFailure(
  what: string,
  reply: HttpReply | undefined,
  err?: unknown,
  expect?: readonly number[],
): Failed {
  if (!reply)
    return failed(ERROR_CODES.actionFailed, 'Unreachable', `${what} failed: ${errorMessage(err)}`, true);
  const retryable = reply.status >= 500 || reply.status === 429;
  return failed(
    ERROR_CODES.actionFailed,
    'UnexpectedStatus',
    `${what} returned ${reply.status}, expected ${expectedText(expect)}: ${maskSecrets(reply.body.slice(0, 300))}`,
    retryable,
  );
}

/** In a dry run a call that changes something elsewhere is described, not sent. */
export function skippedInDryRun(what: string, request: Record<string, unknown>): ActionOutcome {
  return done(`dry run: would ${what}`, { diff: { request } });
}

/** Text of a reply of any shape (Redis replies, SQL values), for comparisons and messages. */
export function replyText(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (Buffer.isBuffer(v)) return v.toString('utf8');
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  if (v instanceof Date) return v.toISOString();
  return JSON.stringify(v);
}
