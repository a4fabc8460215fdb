/**
 * A 403 under impersonation, in words a Runbook's author can act on: which ServiceAccount may
 * not do which verb on which resource where, and the RBAC that grants it. Parsed from the API
 * server's Status message (`User "system:serviceaccount:team-a:default" cannot patch resource
 * "deployments/scale" in API group "apps" in the namespace "kube-system"`), whose wording
 * Kubernetes has kept since RBAC went GA.
 */
import { parseServiceAccountUser } from './identity.js';

export interface Denial {
  user: string;
  verb: string;
  /** `deployments` or `deployments/scale`. */
  resource: string;
  /** `""` for the core group. */
  group: string;
  /** Absent at the cluster scope. */
  namespace?: string;
}

const DENIAL =
  /User "([^"]+)" cannot (\S+) resource "([^"]+)" in API group "([^"]*)"(?: in the namespace "([^"]+)")?/;

export function parseDenial(message: string): Denial | undefined {
  const m = DENIAL.exec(message);
  if (!m) return undefined;
  const [, user, verb, resource, group, namespace] = m;
  return {
    user: user!,
    verb: verb!,
    resource: resource!,
    group: group!,
    ...(namespace ? { namespace } : {}),
  };
}

/**
 * The message of a step refused by RBAC under a ServiceAccount, or undefined when the 403 was
 * not about a ServiceAccount (the operator's own rights: the old message applies).
 */
export function denialMessage(apiMessage: string): string | undefined {
  const d = parseDenial(apiMessage);
  if (!d) return undefined;
  const sa = parseServiceAccountUser(d.user);
  if (!sa) return undefined;
  const res = d.group ? `${d.resource.split('/')[0]}.${d.group}` : d.resource.split('/')[0]!;
  const sub = d.resource.includes('/') ? `/${d.resource.split('/').slice(1).join('/')}` : '';
  const where = d.namespace ? `in namespace ${d.namespace}` : 'at the cluster scope';
  const role = `kube-remediator-${sa.namespace}-${sa.name}`.slice(0, 63);
  const grant = d.namespace
    ? `kubectl -n ${d.namespace} create role ${role} --verb=${d.verb} --resource=${res}${sub} && ` +
      `kubectl -n ${d.namespace} create rolebinding ${role} --role=${role} --serviceaccount=${sa.namespace}:${sa.name}`
    : `kubectl create clusterrole ${role} --verb=${d.verb} --resource=${res}${sub} && ` +
      `kubectl create clusterrolebinding ${role} --clusterrole=${role} --serviceaccount=${sa.namespace}:${sa.name}`;
  return (
    `ServiceAccount ${sa.namespace}/${sa.name} (the Runbook's identity) may not ${d.verb} ${res}${sub} ${where}; ` +
    `if it should, grant it: ${grant}`
  );
}
