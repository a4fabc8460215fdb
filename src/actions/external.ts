/**
 * What the actions that talk to services outside Kubernetes share: where the URL comes from,
 * keeping secrets out of messages, HTTP with a deadline, and status expectations.
 */
import type { ActionContext, ActionOutcome } from './types.js';
import { ERROR_CODES, errorMessage } from '../util/errors.js';
import { EXTERNAL_TIMEOUT_MS, done, failed, type Failed } from './common.js';

/** Checks poll more slowly than rollouts: each poll costs the service a request. */
export const CHECK_POLL_MS = 5000;

export interface UrlSource {
  url?: string;
  urlFrom?: { secretKeyRef?: { name: string; key: string } };
}

/** The connection URL: inline, or read from a Secret key (never copied into status). */
export async function resolveUrl(
  ctx: ActionContext,
  src: UrlSource,
  field: string,
): Promise<string | Failed | undefined> {
  if (src.url) return src.url;
  const ref = src.urlFrom?.secretKeyRef;
  if (!ref) return undefined;
  try {
    return (await ctx.readSecret(ref.name, ref.key)).trim();
  } catch (err) {
    return failed(
      ERROR_CODES.missingParam,
      'SecretUnreadable',
      `${field}.urlFrom: cannot read key ${ref.key} of Secret ${ref.name}: ${errorMessage(err)}`,
      true,
    );
  }
}

export function requireUrl(url: string | Failed | undefined, field: string): string | Failed {
  return (
    url ?? failed(ERROR_CODES.invalidSpec, 'MissingUrl', `${field}: give url or urlFrom.secretKeyRef`, false)
  );
}

/** The URL without its password or query string, for messages and status. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    if (u.search) u.search = '?***';
    return u.toString();
  } catch {
    return '<unparseable url>';
  }
}

export function statusExpected(status: number, expect: readonly number[] | undefined): boolean {
  return expect && expect.length > 0 ? expect.includes(status) : status >= 200 && status < 300;
}

export function expectedText(expect: readonly number[] | undefined): string {
  return expect && expect.length > 0 ? expect.join(' or ') : '2xx';
}

export interface HttpReply {
  status: number;
  body: string;
}

/**
 * The header that carries the step's stamp (`<remediation uid>/<step>/<attempt>`) on calls that
 * change something elsewhere (httpCall, notify), per the IETF draft "The Idempotency-Key HTTP
 * Header Field". A crash between sending and recording repeats the call with the same key, so
 * a receiver that honours the header can drop the repeat; a retried attempt gets a new key.
 */
export const IDEMPOTENCY_KEY_HEADER = 'Idempotency-Key';

/** `headers` plus our Idempotency-Key, unless the step already sets one (in any letter case). */
export function withIdempotencyKey(
  headers: Record<string, string> | undefined,
  stamp: string,
): Record<string, string> {
  const own = Object.keys(headers ?? {}).some(
    (k) => k.toLowerCase() === IDEMPOTENCY_KEY_HEADER.toLowerCase(),
  );
  return own ? { ...headers } : { ...headers, [IDEMPOTENCY_KEY_HEADER]: stamp };
}

export async function httpRequest(
  url: string,
  init: { method: string; headers?: Record<string, string>; body?: string },
  timeoutMs = EXTERNAL_TIMEOUT_MS,
): Promise<HttpReply> {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
  const body = init.method === 'HEAD' ? '' : await res.text();
  return { status: res.status, body };
}

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
    `${what} returned ${reply.status}, expected ${expectedText(expect)}: ${reply.body.slice(0, 300)}`,
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
