/**
 * `kube-remediator approve|reject NAME [-n NS]`: sends the decision with the caller's own
 * Kubernetes bearer token (from their kubeconfig, exec plugins included) to the operator's
 * approval endpoint (src/security/approval-endpoint.ts), which checks who it is and whether
 * they may approve, and records the verified user name. Returns the exit code.
 */
import { parseArgs } from 'node:util';
import * as k8s from '@kubernetes/client-node';
import { loadKubeTarget } from '../kube/kubeconfig.js';
import { errorMessage } from '../util/errors.js';

export const APPROVE_USAGE = `Usage: kube-remediator approve|reject NAME [options]

Approves (or rejects) the Remediation NAME as you: the operator checks your Kubernetes token
(TokenReview) and that you may "approve" remediations in the namespace (SubjectAccessReview),
then records your verified user name in status.approval (status.rejection).

Options:
  -n, --namespace <ns>    namespace of the Remediation (default: the kubeconfig context's, else default)
  --step <step>           approve one step that asks for it (steps[].requireApproval), not the run;
                          a rejection always rejects the run
  --url <url>             the operator's webhook address, e.g. http://127.0.0.1:9095 after
                          \`kubectl -n kube-remediator port-forward svc/kube-remediator 9095\`
                          (default $KR_APPROVAL_URL)
  --kubeconfig <file>     whose token to send (default $KUBECONFIG, ~/.kube/config)
  -h, --help              show this help

Your kubeconfig user must authenticate with a bearer token (OIDC, cloud exec plugins, a
ServiceAccount token); a client certificate cannot be forwarded. For HTTPS with a private CA,
set NODE_EXTRA_CA_CERTS.
`;

interface Io {
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown };
  env?: NodeJS.ProcessEnv;
}

export async function runApproveCommand(
  decision: 'approve' | 'reject',
  argv: string[],
  io: Io,
): Promise<number> {
  const env = io.env ?? process.env;
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      namespace: { type: 'string', short: 'n' },
      url: { type: 'string' },
      kubeconfig: { type: 'string' },
      step: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    io.stdout.write(APPROVE_USAGE);
    return 0;
  }
  const name = positionals[0];
  const base = values.url ?? env.KR_APPROVAL_URL;
  if (!name || positionals.length > 1 || !base) {
    io.stderr.write(
      `kube-remediator ${decision}: ${!name || positionals.length > 1 ? 'give one Remediation NAME' : 'give --url (or KR_APPROVAL_URL)'}\n\n${APPROVE_USAGE}`,
    );
    return 2;
  }
  try {
    const { kc } = loadKubeTarget(values.kubeconfig ?? env.KUBECONFIG ?? '');
    const namespace = values.namespace ?? contextNamespace(kc) ?? 'default';
    const token = await bearerToken(kc);
    if (!token) {
      io.stderr.write(
        `kube-remediator ${decision}: your kubeconfig user has no bearer token (a client certificate cannot be forwarded); use a token-based user\n`,
      );
      return 6;
    }
    const url = `${base.replace(/\/+$/, '')}/approvals/v1/namespaces/${encodeURIComponent(namespace)}/remediations/${encodeURIComponent(name)}`;
    const res = await fetch(url, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ decision, ...(values.step !== undefined ? { step: values.step } : {}) }),
    });
    const body = (await res.json().catch(() => ({}))) as { message?: string; code?: string };
    if (res.ok) {
      io.stdout.write(`remediation ${namespace}/${name} ${body.message ?? decision}\n`);
      return 0;
    }
    io.stderr.write(
      `kube-remediator ${decision}: ${body.code ? `${body.code}: ` : ''}${body.message ?? `HTTP ${res.status}`}\n`,
    );
    return res.status === 401 ? 6 : res.status === 403 ? 7 : 1;
  } catch (err) {
    io.stderr.write(`kube-remediator ${decision}: ${errorMessage(err)}\n`);
    return 1;
  }
}

function contextNamespace(kc: k8s.KubeConfig): string | undefined {
  const ctx = kc.getContextObject(kc.getCurrentContext());
  return ctx?.namespace || undefined;
}

/** The `Authorization: Bearer` client-node would send for this kubeconfig (static, file or exec). */
async function bearerToken(kc: k8s.KubeConfig): Promise<string | undefined> {
  const opts: { headers?: Record<string, string> } = {};
  await kc.applyToHTTPSOptions(opts as Parameters<k8s.KubeConfig['applyToHTTPSOptions']>[0]);
  return /^Bearer\s+(\S+)$/i.exec(opts.headers?.Authorization ?? '')?.[1];
}
