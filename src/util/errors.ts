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

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
