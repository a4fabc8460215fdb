/**
 * Who deploys a target from Git, read from the target itself (pure, table-tested).
 *
 * - Argo CD, annotation tracking (the default since 3.0): `argocd.argoproj.io/tracking-id:
 *   <app>:<group>/<kind>:<namespace>/<name>`. `<app>` is the Application's name, or
 *   `<appNamespace>_<name>` for an Application outside Argo CD's own namespace (apps in any
 *   namespace). The id names the object it was written for: an id that names another object
 *   (an object copied with its annotations) is not Argo CD's, as Argo CD itself decides.
 * - Argo CD, label tracking (2.x default): `app.kubernetes.io/instance: <app>`. Helm sets the
 *   same label on everything it installs, so it counts only when the operator is told that the
 *   cluster's Argo CD tracks by label (`gitops.argocd.trackingLabel`).
 * - Flux: the labels `kustomize.toolkit.fluxcd.io/name|namespace` (a Kustomization) or
 *   `helm.toolkit.fluxcd.io/name|namespace` (a HelmRelease). A HelmRelease's objects may carry
 *   both (the HelmRelease itself comes from a Kustomization): the HelmRelease is the owner that
 *   writes them.
 */

export const GITOPS_KEYS = {
  argoTrackingId: 'argocd.argoproj.io/tracking-id',
  argoInstanceLabel: 'app.kubernetes.io/instance',
  fluxKustomizationName: 'kustomize.toolkit.fluxcd.io/name',
  fluxKustomizationNamespace: 'kustomize.toolkit.fluxcd.io/namespace',
  fluxHelmReleaseName: 'helm.toolkit.fluxcd.io/name',
  fluxHelmReleaseNamespace: 'helm.toolkit.fluxcd.io/namespace',
} as const;

export const GITOPS_CONTROLLERS = ['ArgoCD', 'Flux'] as const;
export type GitOpsController = (typeof GITOPS_CONTROLLERS)[number];

export const OWNER_KINDS = {
  application: { apiVersion: 'argoproj.io/v1alpha1', kind: 'Application', plural: 'applications' },
  kustomization: {
    apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
    kind: 'Kustomization',
    plural: 'kustomizations',
  },
  helmRelease: { apiVersion: 'helm.toolkit.fluxcd.io/v2', kind: 'HelmRelease', plural: 'helmreleases' },
} as const;

export interface GitOpsOwner {
  controller: GitOpsController;
  apiVersion: string;
  kind: string;
  namespace: string;
  name: string;
  /** The label or annotation it was read from, for people. */
  via: string;
}

/** What detection needs of the target: its identity and metadata. */
export interface TargetMeta {
  apiVersion: string;
  kind: string;
  namespace: string;
  name: string;
  labels?: Readonly<Record<string, string>>;
  annotations?: Readonly<Record<string, string>>;
}

export interface DetectOptions {
  /** Argo CD's own namespace, where its Applications live unless named `<ns>_<name>`. */
  argoNamespace: string;
  /** The label Argo CD tracks by, when the cluster's Argo CD is set to label tracking; '' when not. */
  argoTrackingLabel: string;
}

export const DEFAULT_DETECT_OPTIONS: DetectOptions = { argoNamespace: 'argocd', argoTrackingLabel: '' };

/** The group of an apiVersion (`apps/v1` → `apps`, `v1` → ''), as tracking ids write it. */
export function groupOf(apiVersion: string): string {
  const i = apiVersion.indexOf('/');
  return i < 0 ? '' : apiVersion.slice(0, i);
}

export interface TrackingId {
  app: string;
  group: string;
  kind: string;
  namespace: string;
  name: string;
}

/** `<app>:<group>/<kind>:<namespace>/<name>` (namespace empty for cluster-scoped objects); undefined when malformed. */
export function parseTrackingId(id: string): TrackingId | undefined {
  const m = /^([^:]+):([^/:]*)\/([^:/]+):([^/:]*)\/([^/:]+)$/.exec(id.trim());
  if (!m) return undefined;
  return { app: m[1]!, group: m[2]!, kind: m[3]!, namespace: m[4]!, name: m[5]! };
}

/** An Application instance name (`name` or `namespace_name`) as namespace and name. */
export function applicationOf(app: string, argoNamespace: string): { namespace: string; name: string } {
  const i = app.indexOf('_');
  return i < 0
    ? { namespace: argoNamespace, name: app }
    : { namespace: app.slice(0, i), name: app.slice(i + 1) };
}

function argoOwner(app: string, via: string, opts: DetectOptions): GitOpsOwner {
  const { namespace, name } = applicationOf(app, opts.argoNamespace);
  const k = OWNER_KINDS.application;
  return { controller: 'ArgoCD', apiVersion: k.apiVersion, kind: k.kind, namespace, name, via };
}

function fluxOwner(
  labels: Readonly<Record<string, string>>,
  nameKey: string,
  nsKey: string,
  kind: { apiVersion: string; kind: string },
): GitOpsOwner | undefined {
  const name = labels[nameKey];
  const namespace = labels[nsKey];
  if (!name || !namespace) return undefined;
  return {
    controller: 'Flux',
    apiVersion: kind.apiVersion,
    kind: kind.kind,
    namespace,
    name,
    via: `label ${nameKey}`,
  };
}

/**
 * The GitOps owner of `t`, or undefined when nothing says one deploys it. Argo CD's tracking
 * annotation first (it is the surest), then Flux's labels, then Argo CD's label when configured.
 */
export function detectOwner(
  t: TargetMeta,
  opts: DetectOptions = DEFAULT_DETECT_OPTIONS,
): GitOpsOwner | undefined {
  const labels = t.labels ?? {};
  const annotations = t.annotations ?? {};
  const id = annotations[GITOPS_KEYS.argoTrackingId];
  if (id) {
    const parsed = parseTrackingId(id);
    if (
      parsed &&
      parsed.group === groupOf(t.apiVersion) &&
      parsed.kind === t.kind &&
      parsed.namespace === t.namespace &&
      parsed.name === t.name
    )
      return argoOwner(parsed.app, `annotation ${GITOPS_KEYS.argoTrackingId}`, opts);
  }
  const helm = fluxOwner(
    labels,
    GITOPS_KEYS.fluxHelmReleaseName,
    GITOPS_KEYS.fluxHelmReleaseNamespace,
    OWNER_KINDS.helmRelease,
  );
  if (helm) return helm;
  const ks = fluxOwner(
    labels,
    GITOPS_KEYS.fluxKustomizationName,
    GITOPS_KEYS.fluxKustomizationNamespace,
    OWNER_KINDS.kustomization,
  );
  if (ks) return ks;
  if (opts.argoTrackingLabel) {
    const app = labels[opts.argoTrackingLabel];
    if (app) return argoOwner(app, `label ${opts.argoTrackingLabel}`, opts);
  }
  return undefined;
}

/** `Kind/namespace/name` of an owner, as messages name it. */
export function ownerKey(o: Pick<GitOpsOwner, 'kind' | 'namespace' | 'name'>): string {
  return `${o.kind}/${o.namespace}/${o.name}`;
}
