/**
 * Deterministic names. The Remediation name is a pure function of the Runbook and the alert
 * occurrence (fingerprint + startsAt), so every replica that receives the same notification
 * tries to create the same object and the API server's 409 AlreadyExists is the dedup: no
 * store is needed for exactly-once creation.
 */
import { createHash } from 'node:crypto';

/** Longest Kubernetes label value; the name also serves as one. */
export const MAX_NAME_LENGTH = 63;
const HASH_HEX = 10;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** Cuts `text` to `max` characters and drops what would leave it ending on a non-alphanumeric. */
function prefix(text: string, max: number): string {
  return text.slice(0, max).replace(/[^a-z0-9]+$/, '');
}

/**
 * `<runbook, truncated>-<10 hex of sha256(namespace/runbook/fingerprint/startsAt)>`: a valid
 * DNS-1123 subdomain of at most 63 characters, so it is also a valid label value.
 * `startsAt` is used as Alertmanager sends it: the same alert occurrence always carries the
 * same text, and a new occurrence of the same labels gets a new startsAt (hence a new name).
 */
export function remediationName(
  namespace: string,
  runbook: string,
  fingerprint: string,
  startsAt: string,
): string {
  const hash = sha256Hex(`${namespace}/${runbook}/${fingerprint.toLowerCase()}/${startsAt}`).slice(
    0,
    HASH_HEX,
  );
  const head = prefix(runbook.toLowerCase(), MAX_NAME_LENGTH - HASH_HEX - 1);
  return head ? `${head}-${hash}` : `rem-${hash}`;
}

/**
 * A label value for arbitrary text: the text itself when it is valid, else a readable prefix
 * plus a hash (so two different long alertnames never share a value).
 */
export function labelValue(text: string): string {
  if (text.length <= MAX_NAME_LENGTH && LABEL_VALUE.test(text)) return text;
  const hash = sha256Hex(text).slice(0, 8);
  const head = text
    .replace(/[^-A-Za-z0-9_.]+/g, '-')
    .replace(/^[^A-Za-z0-9]+/, '')
    .slice(0, MAX_NAME_LENGTH - hash.length - 1)
    .replace(/[^A-Za-z0-9]+$/, '');
  return head ? `${head}-${hash}` : hash;
}
