/**
 * The exit codes of `kube-remediator`, one per kind of start-up failure, so scripts and
 * supervisors can tell "fix the kubeconfig" from "grant RBAC" without parsing text. The help
 * text and README's table are made from this list (scripts/gen-config-docs.ts); a code never
 * changes meaning.
 */
import { ERROR_CODES, errorMessage, RemediatorError, StartupError, type ErrorCode } from '../util/errors.js';

export interface ExitCode {
  readonly exit: number;
  /** The error code that ends the process with it, if one does. */
  readonly error?: ErrorCode;
  readonly when: string;
}

export const EXIT_CODES: readonly ExitCode[] = [
  { exit: 0, when: 'stopped by SIGTERM or SIGINT after a graceful shutdown' },
  { exit: 1, when: 'leadership lost (another replica takes over), or an unexpected failure' },
  { exit: 2, when: 'unknown command or option' },
  {
    exit: 3,
    error: ERROR_CODES.config,
    when: 'invalid configuration, or a secret file (webhook token, password) that cannot be read',
  },
  {
    exit: 4,
    error: ERROR_CODES.kubeconfig,
    when: 'no kubeconfig found, or it cannot be read, or it has no usable current context',
  },
  {
    exit: 5,
    error: ERROR_CODES.kubeUnavailable,
    when: 'the API server cannot be reached: connection refused, unknown host, no answer, TLS, not ready',
  },
  { exit: 6, error: ERROR_CODES.kubeUnauthorized, when: 'the API server rejects the credentials (401)' },
  { exit: 7, error: ERROR_CODES.kubeForbidden, when: 'RBAC denies a permission the operator needs (403)' },
  { exit: 8, error: ERROR_CODES.crdMissing, when: 'the CRDs are not installed (and no --install-crds)' },
  { exit: 9, error: ERROR_CODES.portInUse, when: 'the webhook or probes port is in use or not allowed' },
  {
    exit: 10,
    error: ERROR_CODES.webhookTls,
    when: "the webhook's TLS certificate or key (webhook.tls) is missing, unreadable, or not a matching PEM pair",
  },
];

const EXIT_USAGE = 2;
const EXIT_UNEXPECTED = 1;

/** A command line that makes no sense (exit code 2). */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** The exit code a failed start ends with. */
export function exitCodeOf(err: unknown): number {
  const code = (err as { code?: unknown } | null)?.code;
  if (err instanceof UsageError || (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS_')))
    return EXIT_USAGE;
  if (!(err instanceof RemediatorError)) return EXIT_UNEXPECTED;
  return EXIT_CODES.find((c) => c.error === err.code)?.exit ?? EXIT_UNEXPECTED;
}

/** For RUN_USAGE. */
export function exitCodesText(): string {
  return EXIT_CODES.map(
    (c) => `  ${String(c.exit).padEnd(3)} ${c.error ? `${c.error}: ` : ''}${c.when}`,
  ).join('\n');
}

/** For README.md (scripts/gen-config-docs.ts). */
export function exitCodesTable(): string {
  return [
    '| exit code | error code | when |',
    '|---|---|---|',
    ...EXIT_CODES.map((c) => `| ${c.exit} | ${c.error ? `\`${c.error}\`` : '-'} | ${c.when} |`),
  ].join('\n');
}

/**
 * What a failed start prints on stderr: the error, then for a StartupError the facts, the cause
 * and the fix, aligned, then the exit code.
 */
export function failureText(err: unknown, program = 'kube-remediator'): string {
  const exit = exitCodeOf(err);
  // A usage error is the person's typo, not a failure with a code to alert on.
  const code = err instanceof RemediatorError ? `${err.code}: ` : exit === EXIT_USAGE ? '' : 'KR_ERR: ';
  const lines = [`${program}: ${code}${errorMessage(err)}`];
  if (err instanceof StartupError) {
    const rows: [string, string][] = [
      ...(err.details.facts ?? []),
      ...(err.details.cause ? [['cause', err.details.cause] as [string, string]] : []),
      ['fix', err.details.fix],
    ];
    const width = Math.max(...rows.map(([k]) => k.length));
    for (const [k, v] of rows) lines.push(`  ${k.padEnd(width)}  ${v}`);
  }
  lines.push(`  (exit code ${exit}; \`kube-remediator run --help\` lists the exit codes)`);
  return `${lines.join('\n')}\n`;
}
