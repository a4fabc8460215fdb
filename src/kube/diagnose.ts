/**
 * Why a call to the API server failed at start, in words, and what to do about it. Pure: the
 * error client-node threw and the target in, a StartupError out. The cases are the ones a
 * person meets when pointing a tool at a cluster: nothing listening, an unknown host, a
 * certificate not trusted, credentials rejected, RBAC missing, a server that is not ready.
 */
import { ERROR_CODES, errorMessage, StartupError, systemErrorWords, type ErrorCode } from '../util/errors.js';
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
 * `doing` says what was being attempted, e.g. "connect to the Kubernetes API server". The
 * result's code decides the exit code: KR_ERR_KUBECONFIG, KR_ERR_KUBE_UNAVAILABLE,
 * KR_ERR_KUBE_UNAUTHORIZED or KR_ERR_KUBE_FORBIDDEN.
 */
export function diagnoseApiFailure(err: unknown, target: KubeTarget, doing: string): StartupError {
  const facts = targetFacts(target);
  const fail = (code: ErrorCode, headline: string, cause: string, fix: string): StartupError =>
    new StartupError(code, `cannot ${doing}: ${headline}`, { facts, cause, fix }, { cause: err });
  if (errorMessage(err).includes(HTTP_NOT_ALLOWED))
    return fail(
      ERROR_CODES.kubeconfig,
      'the server URL is plain http://',
      'client libraries refuse an http:// server unless its cluster entry says insecure-skip-tls-verify: true',
      `use the API server's https:// URL (\`kubectl cluster-info\`), or, for a local http-only test server, add insecure-skip-tls-verify: true to the cluster of context "${target.context}"`,
    );
  const status = statusCode(err);
  if (status === 401)
    return fail(
      ERROR_CODES.kubeUnauthorized,
      'the API server rejected the credentials (401 Unauthorized)',
      `401 Unauthorized: the credentials of kubeconfig user "${target.user}" are wrong or expired (a token, or a client certificate the server does not trust)`,
      `renew the credentials of context "${target.context}" (your provider's get-credentials command, or a new token), then check with \`kubectl --context ${target.context} get namespaces\``,
    );
  if (status === 403)
    return fail(
      ERROR_CODES.kubeForbidden,
      'RBAC denies it (403 Forbidden)',
      `403 Forbidden: ${apiErrorMessage(err)}`,
      rbacFix(`kubectl --context ${target.context} auth can-i --list`),
    );
  if (status !== undefined)
    return fail(
      ERROR_CODES.kubeUnavailable,
      `the API server answered ${status}`,
      `the API server answered ${status}: ${apiErrorMessage(err)}`,
      'wait until the API server is healthy (`kubectl get --raw /readyz?verbose`), then start again',
    );
  const { headline, cause, fix } = unreachable(err, target);
  return fail(ERROR_CODES.kubeUnavailable, headline, cause, fix);
}

/** No HTTP answer: a socket, DNS or TLS failure, or none at all in time. */
function unreachable(err: unknown, target: KubeTarget): { headline: string; cause: string; fix: string } {
  const code = systemCode(err);
  const tls = code ? TLS_WORDS[code] : undefined;
  const host = hostOf(target.server);
  const check = `\`kubectl --context ${target.context} cluster-info\` uses the same settings`;
  if (tls)
    return {
      headline: 'TLS verification failed',
      cause: tls,
      fix:
        code === 'CERT_NOT_YET_VALID' || code === 'CERT_HAS_EXPIRED'
          ? `renew the server's certificate or fix this machine's clock; ${check}`
          : `set certificate-authority (or certificate-authority-data) of the cluster of context "${target.context}" to the CA that signed the API server's certificate; for a throw-away local cluster only, insecure-skip-tls-verify: true; ${check}`,
    };
  if (err instanceof NoAnswerError)
    return {
      headline: 'no answer',
      cause: `no answer: ${err.message}`,
      fix: `check the network path to ${host} (VPN, firewall, proxy) and that the cluster is up; ${check}`,
    };
  if (code === 'ECONNREFUSED')
    return {
      headline: 'connection refused',
      cause: `connection refused: nothing listens at ${host}`,
      fix: `start the cluster, or check the server URL and the context (\`kubectl config get-contexts\`); ${check}`,
    };
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN')
    return {
      headline: 'unknown host',
      cause: `${systemErrorWords(code)}: ${host}`,
      fix: `check the host name in the server URL (a VPN that must be up?); ${check}`,
    };
  const words = systemErrorWords(code) ?? errorMessage(err);
  return {
    headline: words.split(':')[0]!,
    cause: words,
    fix: `check that the cluster is up and reachable from here; ${check}`,
  };
}

function rbacFix(check: string): string {
  return (
    'grant the operator its RBAC: `kubectl apply -k config/rbac` (for the ServiceAccount kube-remediator) or the Helm chart; ' +
    `to run it as your own user, a cluster admin binds the ClusterRole kube-remediator to that user. Check with \`${check}\``
  );
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
export function forbiddenError(denied: Access[], checked: number, target: KubeTarget): StartupError {
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
      cause: `403 Forbidden: RBAC grants the credentials of kubeconfig user "${target.user}" ${denied.length === checked ? 'none' : `${checked - denied.length}`} of the ${checked} permissions the start needs`,
      fix: rbacFix(canI),
    },
  );
}
