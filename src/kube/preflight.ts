/**
 * The checks the operator makes against the API server before it starts its controllers, in
 * the order a person would: can it be reached (and does it accept our credentials), does RBAC
 * allow what the start needs, are the CRDs there. Each failure is a StartupError naming the
 * kubeconfig file, context and server and what to do (src/kube/diagnose.ts), instead of an
 * informer that retries forever or a stack trace.
 */
import * as k8s from '@kubernetes/client-node';
import { GROUP, RESOURCES } from '../api/v1alpha1/constants.js';
import { allCrds } from '../api/v1alpha1/crd.js';
import { ERROR_CODES, StartupError } from '../util/errors.js';
import { isNotFound, type KubeClients } from './client.js';
import { accessText, diagnoseApiFailure, forbiddenError, NoAnswerError, type Access } from './diagnose.js';
import { targetFacts, type KubeTarget } from './kubeconfig.js';

/** A healthy API server answers /version in milliseconds; this only bounds a black hole. */
const NO_ANSWER_MS = 15_000;

export interface PreflightOptions {
  /** Empty: all namespaces. */
  watchNamespace: string;
  /** The Lease's namespace when leader election is on. */
  leaseNamespace?: string;
  /** --install-crds: the start creates or updates the CRDs. */
  installCrds: boolean;
}

/** Reachability and credentials, then RBAC. The CRD check comes after an optional install. */
export async function checkApiServer(
  clients: KubeClients,
  target: KubeTarget,
  opts: PreflightOptions,
): Promise<void> {
  try {
    await withDeadline(clients.kc.makeApiClient(k8s.VersionApi).getCode(), NO_ANSWER_MS);
  } catch (err) {
    throw diagnoseApiFailure(err, target, 'connect to the Kubernetes API server');
  }
  await checkAccess(clients.kc, target, requiredAccess(opts));
}

/** What the start needs: watching our kinds, writing Remediations and status, the Lease, the CRDs. */
export function requiredAccess(opts: PreflightOptions): Access[] {
  const namespace = opts.watchNamespace || undefined;
  const ours = (verb: string, resource: string, subresource?: string): Access => ({
    verb,
    group: GROUP,
    resource,
    ...(subresource ? { subresource } : {}),
    ...(namespace ? { namespace } : {}),
  });
  const rb = RESOURCES.runbook.plural;
  const rem = RESOURCES.remediation.plural;
  const access: Access[] = [
    ours('list', rb),
    ours('watch', rb),
    ours('patch', rb),
    ours('patch', rb, 'status'),
    ours('list', rem),
    ours('watch', rem),
    ours('create', rem),
    ours('patch', rem),
    ours('patch', rem, 'status'),
    ours('update', rem, 'status'),
  ];
  if (opts.leaseNamespace)
    for (const verb of ['get', 'create', 'update'])
      access.push({ verb, group: 'coordination.k8s.io', resource: 'leases', namespace: opts.leaseNamespace });
  if (opts.installCrds)
    for (const verb of ['get', 'create', 'update'])
      access.push({ verb, group: 'apiextensions.k8s.io', resource: 'customresourcedefinitions' });
  return access;
}

/** SelfSubjectAccessReviews (every authenticated user may create them): all denials at once. */
async function checkAccess(kc: k8s.KubeConfig, target: KubeTarget, needs: Access[]): Promise<void> {
  const authz = kc.makeApiClient(k8s.AuthorizationV1Api);
  const allowed = await Promise.all(
    needs.map(async (a) => {
      try {
        const review = await authz.createSelfSubjectAccessReview({
          body: { spec: { resourceAttributes: { ...a } } },
        });
        return review.status?.allowed === true;
      } catch (err) {
        throw diagnoseApiFailure(err, target, `check RBAC (${accessText(a)})`);
      }
    }),
  );
  const denied = needs.filter((_, i) => !allowed[i]);
  if (denied.length > 0) throw forbiddenError(denied, needs.length, target);
}

/** Lists our kinds once: a 404 means a CRD is missing, which deserves a clear answer. */
export async function requireCrds(
  clients: KubeClients,
  target: KubeTarget,
  namespace: string,
): Promise<void> {
  for (const crd of allCrds()) {
    const { group, names } = crd.spec as { group: string; names: { plural: string } };
    const version = (crd.spec as { versions: { name: string }[] }).versions[0]!.name;
    try {
      if (namespace)
        await clients.custom.listNamespacedCustomObject({
          group,
          version,
          plural: names.plural,
          namespace,
          limit: 1,
        });
      else await clients.custom.listClusterCustomObject({ group, version, plural: names.plural, limit: 1 });
    } catch (err) {
      if (!isNotFound(err)) throw diagnoseApiFailure(err, target, `list ${names.plural}.${group}`);
      throw new StartupError(
        ERROR_CODES.crdMissing,
        `CRD ${names.plural}.${group} is not installed`,
        {
          facts: targetFacts(target),
          cause: `the API server does not serve ${group}/${version} ${names.plural}`,
          fix: 'install the CRDs: `kubectl apply -f crds/` (or `kube-remediator crds | kubectl apply -f -`; the Helm chart installs them too), or start with --install-crds',
        },
        { cause: err },
      );
    }
  }
}

/** Creates or updates the CRDs (--install-crds, for development; the chart installs them in clusters). */
export async function installCrds(
  kc: k8s.KubeConfig,
  target: KubeTarget,
  log: { info(msg: string, fields: Record<string, unknown>): void },
): Promise<void> {
  const api = kc.makeApiClient(k8s.ApiextensionsV1Api);
  for (const crd of allCrds() as unknown as k8s.V1CustomResourceDefinition[]) {
    const name = crd.metadata!.name!;
    try {
      let exists = true;
      try {
        const cur = await api.readCustomResourceDefinition({ name });
        crd.metadata!.resourceVersion = cur.metadata!.resourceVersion;
      } catch (err) {
        if (!isNotFound(err)) throw err;
        exists = false;
      }
      if (exists) await api.replaceCustomResourceDefinition({ name, body: crd });
      else await api.createCustomResourceDefinition({ body: crd });
      log.info(exists ? 'crd updated' : 'crd created', { name });
    } catch (err) {
      throw diagnoseApiFailure(err, target, `install CRD ${name}`);
    }
  }
}

async function withDeadline<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new NoAnswerError(ms)), ms);
  });
  try {
    return await Promise.race([p, deadline]);
  } finally {
    clearTimeout(timer);
  }
}
