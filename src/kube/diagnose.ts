/**
 * Why a call to the API server failed at start, in words, and what to do about it. Pure: the
 * error client-node threw and the target in, a StartupError out. The cases are the ones a
 * person meets when pointing a tool at a cluster: nothing listening, an unknown host, a
 * certificate not trusted, credentials rejected, RBAC missing, a server that is not ready.
 */
import { ERROR_CODES, errorMessage, StartupError, systemErrorWords } from '../util/errors.js';
import { apiErrorMessage, statusCode } from './client.js';
import { targetFacts, type KubeTarget } from './kubeconfig.js';

/** Node's TLS verification codes and what each means for a kubeconfig. */
const TLS_WORDS: Record<string, string> = {
  DEPTH_ZERO_SELF_SIGNED_CERT: "TLS: the server's certificate is self-signed and not trusted",
  SELF_SIGNED_CERT_IN_CHAIN: "TLS: the server's certificate chain ends in a CA that is not trusted",
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: "TLS: the server's certificate is signed by a CA that is not trusted",
  UNABLE_TO_GET_ISSUER_CERT: "TLS: the issuer of the server's certificate is not trusted",
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: "TLS: the issuer of the server's certificate is not trusted",
  CERT_HAS_EXPIRED: "TLS: the server's certificate has expired",
  CERT_NOT_YET_VALID: "TLS: the server's certificate is not valid yet (is this machine's clock right?)",
  ERR_TLS_CERT_ALTNAME_INVALID: "TLS: the server's certificate is not issued for this host name or IP",
  EPROTO: 'TLS: the server does not speak TLS at this address (a plain-HTTP port?)',
  ERR_SSL_WRONG_VERSION_NUMBER: 'TLS: the server does not speak TLS at this address (a plain-HTTP port?)',
};

/** Thrown by client-node, synchronously, for an http:// server without insecure-skip-tls-verify. */
const HTTP_NOT_ALLOWED = 'HTTP protocol is not allowed';

/** A preflight call that got no answer in time. */
export class NoAnswerError extends Error {
  constructor(readonly afterMs: number) {
    super(`no answer within ${Math.round(afterMs / 1000)} s`);
    this.name = 'NoAnswerError';
  }
}

function systemCode(err: unknown): string | undefined {
  const e = err as { code?: unknown; cause?: { code?: unknown } } | null;
  const code = typeof e?.code === 'string' ? e.code : e?.cause?.code;
  return typeof code === 'string' ? code : undefined;
}

function hostOf(server: string): string {
  try {
    return new URL(server).host;
  } catch {
    return server;
  }
}

/**
 * `doing` says what was being attempted, e.g. "reach the Kubernetes API server". The result's
 * code decides the exit code: KR_ERR_KUBECONFIG, KR_ERR_KUBE_UNAVAILABLE,
 * KR_ERR_KUBE_UNAUTHORIZED or KR_ERR_KUBE_FORBIDDEN.
 */
export function diagnoseApiFailure(err: unknown, target: KubeTarget, doing: string): StartupError {
  const facts = targetFacts(target);
  const fail = (code: Parameters<typeof mk>[0], cause: string, fix: string): StartupError =>
    mk(code, `cannot ${doing}: ${cause.split(':')[0]}`, { facts, cause, fix }, err);
  const message = errorMessage(err);
  if (message.includes(HTTP_NOT_ALLOWED)) {
    return mk(
      ERROR_CODES.kubeconfig,
      `cannot ${doing}: the server URL is plain http://`,
      {
        facts,
        cause:
          'the server URL is http://, which client libraries refuse unless the cluster entry says insecure-skip-tls-verify: true',
        fix: `use the API server's https:// URL (\`kubectl cluster-info\`), or, for a local http-only test server, add insecure-skip-tls-verify: true to cluster of context "${target.context}"`,
      },
      err,
    );
  }
  const status = statusCode(err);
  if (status === 401)
    return fail(
      ERROR_CODES.kubeUnauthorized,
      `401 Unauthorized: the API server rejected the credentials of user "${target.user}" (wrong or expired token, or a client certificate it does not trust)`,
      `renew the credentials of context "${target.context}" (your provider's get-credentials command, or a new token), then check with \`kubectl --context ${target.context} get namespaces\``,
    );
  if (status === 403)
    return fail(
      ERROR_CODES.kubeForbidden,
      `403 Forbidden: ${apiErrorMessage(err)}`,
      rbacFix(`kubectl --context ${target.context} auth can-i --list`),
    );
  if (status !== undefined)
    return fail(
      ERROR_CODES.kubeUnavailable,
      `the API server answered ${status}: ${apiErrorMessage(err)}`,
      'wait until the API server is healthy (`kubectl get --raw /readyz?verbose`), then start again',
    );
  return unreachable(err, target, doing);
}

function unreachable(err: unknown, target: KubeTarget, doing: string): StartupError {
  const facts = targetFacts(target);
  const code = systemCode(err);
  const tls = code ? TLS_WORDS[code] : undefined;
  const check = `\`kubectl --context ${target.context} cluster-info\` uses the same settings`;
  let cause: string;
  let fix: string;
  if (tls) {
    cause = tls;
    fix =
      code === 'CERT_NOT_YET_VALID' || code === 'CERT_HAS_EXPIRED'
        ? `renew the server's certificate or fix this machine's clock; ${check}`
        : `set certificate-authority (or certificate-authority-data) of the cluster of context "${target.context}" to the CA that signed the API server's certificate; for a throw-away local cluster only, insecure-skip-tls-verify: true; ${check}`;
  } else if (err instanceof NoAnswerError) {
    cause = `no answer: ${err.message}`;
    fix = `check the network path to ${hostOf(target.server)} (VPN, firewall, proxy) and that the cluster is up; ${check}`;
  } else if (code === 'ECONNREFUSED') {
    cause = `connection refused: nothing listens at ${hostOf(target.server)}`;
    fix = `start the cluster, or check the server URL and the context (\`kubectl config get-contexts\`); ${check}`;
  } else if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    cause = `${systemErrorWords(code)}: ${hostOf(target.server)}`;
    fix = `check the host name in the server URL (a VPN that must be up?); ${check}`;
  } else {
    cause = systemErrorWords(code) ?? errorMessage(err);
    fix = `check that the cluster is up and reachable from here; ${check}`;
  }
  return mk(
    ERROR_CODES.kubeUnavailable,
    `cannot ${doing}: ${cause.split(':')[0]}`,
    { facts, cause, fix },
    err,
  );
}

function rbacFix(check: string): string {
  return (
    'grant the operator its RBAC: `kubectl apply -k config/rbac` (for the ServiceAccount kube-remediator) or the Helm chart; ' +
    `to run it as your own user, a cluster admin binds the ClusterRole kube-remediator to that user. Check with \`${check}\``
  );
}

function mk(
  code: ConstructorParameters<typeof StartupError>[0],
  message: string,
  details: ConstructorParameters<typeof StartupError>[2],
  cause: unknown,
): StartupError {
  return new StartupError(code, message, details, { cause });
}

/** One permission the operator needs at start. */
export interface Access {
  verb: string;
  group: string;
  resource: string;
  subresource?: string;
  /** Undefined: cluster-wide or all namespaces. */
  namespace?: string;
}

export function accessText(a: Access): string {
  const res = `${a.resource}${a.subresource ? `/${a.subresource}` : ''}${a.group ? `.${a.group}` : ''}`;
  return `${a.verb} ${res} ${a.namespace ? `in namespace ${a.namespace}` : '(all namespaces / cluster-wide)'}`;
}

/** KR_ERR_KUBE_FORBIDDEN listing every permission RBAC denies, each as a `kubectl auth can-i` check. */
export function forbiddenError(denied: Access[], target: KubeTarget): StartupError {
  const first = denied[0]!;
  const canI = [
    `kubectl --context ${target.context} auth can-i ${first.verb} ${first.resource}${first.group ? `.${first.group}` : ''}`,
    ...(first.subresource ? [`--subresource=${first.subresource}`] : []),
    first.namespace ? `-n ${first.namespace}` : '-A',
  ].join(' ');
  return new StartupError(
    ERROR_CODES.kubeForbidden,
    `RBAC denies ${denied.length} permission${denied.length === 1 ? '' : 's'} the operator needs to start`,
    {
      facts: [...targetFacts(target), ...denied.map((a): [string, string] => ['missing', accessText(a)])],
      cause: `403 Forbidden: user "${target.user}" may not ${denied.map((a) => `${a.verb} ${a.resource}${a.subresource ? `/${a.subresource}` : ''}`).join(', ')}`,
      fix: rbacFix(canI),
    },
  );
}
