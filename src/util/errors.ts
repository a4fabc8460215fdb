/**
 * Stable error codes. A code never changes meaning; messages say what to do. Codes are what
 * logs, conditions and HTTP answers carry, so alerts and dashboards can key on them.
 */
export const ERROR_CODES = {
  config: 'KR_ERR_CONFIG',
  kubeUnavailable: 'KR_ERR_KUBE_UNAVAILABLE',
  conflict: 'KR_ERR_CONFLICT',
  notFound: 'KR_ERR_NOT_FOUND',
  invalidSpec: 'KR_ERR_INVALID_SPEC',
  boundExceeded: 'KR_ERR_BOUND_EXCEEDED',
  missingParam: 'KR_ERR_MISSING_PARAM',
  invalidParam: 'KR_ERR_INVALID_PARAM',
  outOfScope: 'KR_ERR_OUT_OF_SCOPE',
  actionFailed: 'KR_ERR_ACTION_FAILED',
  actionRefused: 'KR_ERR_ACTION_REFUSED',
  timeout: 'KR_ERR_TIMEOUT',
  storeUnavailable: 'KR_ERR_STORE_UNAVAILABLE',
  unauthorized: 'KR_ERR_UNAUTHORIZED',
  payloadTooLarge: 'KR_ERR_PAYLOAD_TOO_LARGE',
  unsupportedMediaType: 'KR_ERR_UNSUPPORTED_MEDIA_TYPE',
  invalidPayload: 'KR_ERR_INVALID_PAYLOAD',
  unsupportedVersion: 'KR_ERR_UNSUPPORTED_VERSION',
  kubeconfig: 'KR_ERR_KUBECONFIG',
  kubeUnauthorized: 'KR_ERR_KUBE_UNAUTHORIZED',
  kubeForbidden: 'KR_ERR_KUBE_FORBIDDEN',
  crdMissing: 'KR_ERR_CRD_MISSING',
  portInUse: 'KR_ERR_PORT_IN_USE',
  /** A step's ServiceAccount (serviceAccount identity mode) lacks the RBAC for a read or change. */
  identityForbidden: 'KR_ERR_IDENTITY_FORBIDDEN',
  /** An outbound call to a host outside `outbound.allow`. */
  outboundDenied: 'KR_ERR_OUTBOUND_DENIED',
  /** An approval or rejection refused: the caller may not approve this Remediation. */
  approvalForbidden: 'KR_ERR_APPROVAL_FORBIDDEN',
  /** The webhook's TLS certificate or key (webhook.tls) cannot be read or does not load. */
  webhookTls: 'KR_ERR_WEBHOOK_TLS',
} as const;
export type ErrorCode = (typeof ERROR_CODES)[keyof typeof ERROR_CODES];

export class RemediatorError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown; terminal?: boolean },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'RemediatorError';
    this.terminal = options?.terminal ?? false;
  }
  /** A terminal error is recorded, not retried. */
  readonly terminal: boolean;
}

/**
 * A failure that stops the operator before it runs. Besides the one-line message it carries
 * what a person needs to act: the facts (kubeconfig file, context, server, setting...), the
 * cause in words, and the fix. The CLI prints them on stderr and exits with the code of
 * `code` (src/cli/exit-codes.ts).
 */
export class StartupError extends RemediatorError {
  constructor(
    code: ErrorCode,
    message: string,
    readonly details: {
      /** Labelled facts, in the order a reader checks them, e.g. `['server', 'https://...']`. */
      facts?: [string, string][];
      /** The underlying cause, in words. */
      cause?: string;
      /** What to do next. */
      fix: string;
    },
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
    this.name = 'StartupError';
  }
}

/** Node's system error codes (sockets, files) in words a person understands. */
export function systemErrorWords(code: string | undefined): string | undefined {
  return code ? SYSTEM_ERROR_WORDS[code] : undefined;
}

const SYSTEM_ERROR_WORDS: Record<string, string> = {
  ECONNREFUSED: 'connection refused: nothing listens at that address and port',
  ECONNRESET: 'the connection was reset by the other side',
  ENOTFOUND: 'unknown host: the name does not resolve (DNS)',
  EAI_AGAIN: 'the host name could not be resolved right now (DNS timeout)',
  ETIMEDOUT: 'no answer: the connection timed out',
  EHOSTUNREACH: 'no route to the host',
  ENETUNREACH: 'the network is unreachable',
  EADDRINUSE: 'the address is already in use: another process listens on it',
  EADDRNOTAVAIL: 'the address is not available on this machine',
  ENOENT: 'the file does not exist',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EISDIR: 'it is a directory, not a file',
  ENOTDIR: 'a part of the path is not a directory',
};

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
