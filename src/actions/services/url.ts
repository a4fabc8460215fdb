/**
 * Where a service's URL comes from (inline or a Secret key), and keeping secrets out of
 * messages.
 */
import type { ActionContext } from '../types.js';
import { ERROR_CODES, errorMessage } from '../../util/errors.js';
import { failed, type Failed } from '../outcome.js';
import { apiErrorMessage, statusCode } from '../../kube/client.js';
import { denialMessage } from '../../security/forbidden.js';

export interface UrlSource {
  url?: string;
  urlFrom?: { secretKeyRef?: { name: string; key: string } };
}

/** The connection URL: inline, or read from a Secret key (never copied into status). */
export async function resolveUrl(
  ctx: Pick<ActionContext, 'readSecret'>,
  src: UrlSource,
  field: string,
): Promise<string | Failed | undefined> {
  if (src.url) return src.url;
  const ref = src.urlFrom?.secretKeyRef;
  if (!ref) return undefined;
  try {
    return (await ctx.readSecret(ref.name, ref.key)).trim();
  } catch (err) {
    // Read under the Runbook's ServiceAccount (serviceAccount mode): a missing grant is not
    // going to appear by retrying.
    const denial = statusCode(err) === 403 ? denialMessage(apiErrorMessage(err)) : undefined;
    if (denial)
      return failed(
        ERROR_CODES.identityForbidden,
        'Forbidden',
        `${field}.urlFrom: cannot read Secret ${ref.name}: ${denial}`,
        false,
      );
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

export function validateUrlField(url: unknown, field: string): string[] {
  if (typeof url !== 'string' || !/^https?:\/\//.test(url))
    return [`${field}: must be an http:// or https:// URL`];
  return [];
}
