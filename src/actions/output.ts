/**
 * What a step records in `status.steps[i].output`: what it read, for the person who looks
 * later. Bounded, because it lives in the Remediation's status (etcd refuses objects over
 * about 1.5 MiB, and a status write that fails loses the whole record), and masked, because
 * status is readable by anyone who may read Remediations while replies, rows and log lines
 * may carry credentials.
 */
import { RE2JS } from 're2js';
import { OUTPUT_LIMITS } from '../api/v1alpha1/schema.js';

export type StepOutput = Record<string, unknown>;

/** Bytes of one recorded reply, row set or response body. */
export const REPLY_BYTES = OUTPUT_LIMITS.replyBytes;

const CUT_MARK = '…';

/** The UTF-8 length of `text`. */
export function byteLength(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

/** `text` cut to at most `maxBytes` UTF-8 bytes (never inside a character), and whether it was. */
export function cutToBytes(text: string, maxBytes: number): { text: string; truncated: boolean } {
  if (byteLength(text) <= maxBytes) return { text, truncated: false };
  const room = Math.max(0, maxBytes - byteLength(CUT_MARK));
  // A cut inside a multi-byte character decodes to U+FFFD: drop it.
  const head = Buffer.from(text, 'utf8')
    .subarray(0, room)
    .toString('utf8')
    .replace(/\uFFFD+$/, '');
  return { text: head + CUT_MARK, truncated: true };
}

// Linear-time (RE2) patterns: they run over text we do not control (replies, rows, logs).
const SECRET_PATTERNS: readonly [RE2JS, string][] = [
  // scheme://user:password@host
  [RE2JS.compile('([a-zA-Z][a-zA-Z0-9+.-]*://[^/\\s:@]*:)[^/\\s@]+@'), '$1***@'],
  // Authorization: Bearer <token>, Basic <credentials>
  [RE2JS.compile('(?i)\\b(bearer|basic)\\s+[A-Za-z0-9._~+/=-]{8,}'), '$1 ***'],
  // password=..., "api_key": "...", token: ..., client-secret=...
  [
    RE2JS.compile(
      `(?i)([a-z0-9_.-]*(?:passw(?:or)?d|secret|token|api[_-]?key|access[_-]?key|credential|signature)["']?\\s*[:=]\\s*["']?)[^\\s"',;&}]+`,
    ),
    '$1***',
  ],
  // SQL: PASSWORD 'x' (CREATE/ALTER ROLE ... PASSWORD)
  [RE2JS.compile("(?i)(\\bpassword\\s+)'[^']*'"), "$1'***'"],
];

/** `text` with URL credentials, bearer tokens and secret-looking values masked. */
export function maskSecrets(text: string): string {
  let out = text;
  for (const [re, replacement] of SECRET_PATTERNS) {
    if (re.matcher(out).find()) out = re.matcher(out).replaceAll(replacement);
  }
  return out;
}

/** A reply, row value or body excerpt as it is recorded: masked, then cut to `maxBytes`. */
export function recordedText(
  text: string,
  maxBytes: number = REPLY_BYTES,
): { text: string; truncated: boolean } {
  return cutToBytes(maskSecrets(text), maxBytes);
}
