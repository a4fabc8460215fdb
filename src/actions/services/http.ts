/**
 * HTTP with a deadline, status expectations and the Idempotency-Key of calls that change
 * something.
 */
import { EXTERNAL_TIMEOUT_MS } from './replies.js';
import { checkOutbound } from '../../security/outbound.js';

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
  // outbound.allow (src/security/outbound.ts): before anything is sent.
  await checkOutbound(url);
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
  const body = init.method === 'HEAD' ? '' : await res.text();
  return { status: res.status, body };
}
