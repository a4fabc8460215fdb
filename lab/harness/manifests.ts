/**
 * Small builders for the seeds' manifests, so a scenario file reads like the seed: names,
 * kinds, env vars, replica counts. What the builders add is what the lab cluster needs and a
 * seed does not say: `terminationGracePeriodSeconds: 0`, because the fake kubelet never ends a
 * grace period, so a pod with one would stay Terminating forever.
 */
import type * as k8s from '@kubernetes/client-node';

export function namespace(name: string): k8s.V1Namespace {
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name } };
}

export interface Workload {
  name: string;
  namespace: string;
  replicas: number;
  labels: Record<string, string>;
  containers: k8s.V1Container[];
}

function template(w: Workload): k8s.V1PodTemplateSpec {
  return {
    metadata: { labels: w.labels },
    spec: { containers: w.containers, terminationGracePeriodSeconds: 0 },
  };
}

export function deployment(
  w: Workload,
  extra: Partial<k8s.V1DeploymentSpec> = {},
): k8s.V1Deployment & { apiVersion: string; kind: string } {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: w.name, namespace: w.namespace, labels: w.labels },
    spec: {
      replicas: w.replicas,
      selector: { matchLabels: w.labels },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
      template: template(w),
      ...extra,
    },
  };
}

/**
 * A StatefulSet with `podManagementPolicy: Parallel`: with OrderedReady the v1.20 controller
 * does not replace a pod that is not Ready, so `rollout restart` cannot fix a crash-looping
 * pod (kubernetes/kubernetes#67250), which is exactly what the Redis seeds ask of it.
 */
export function statefulSet(w: Workload): k8s.V1StatefulSet & { apiVersion: string; kind: string } {
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name: w.name, namespace: w.namespace, labels: w.labels },
    spec: {
      replicas: w.replicas,
      serviceName: w.name,
      podManagementPolicy: 'Parallel',
      selector: { matchLabels: w.labels },
      template: template(w),
    },
  };
}

export function service(
  name: string,
  ns: string,
  selector: Record<string, string>,
  ports: Record<string, number>,
): k8s.V1Service & { apiVersion: string; kind: string } {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace: ns },
    spec: {
      selector,
      ports: Object.entries(ports).map(([n, port]) => ({ name: n, port, targetPort: port })),
    },
  };
}

/** `[{name, value}]` from an object, in its order. */
export function env(vars: Record<string, string>): k8s.V1EnvVar[] {
  return Object.entries(vars).map(([name, value]) => ({ name, value }));
}

/** The env of a workload's first container (or the named one), as the cluster has it now. */
export function envOf(
  w: { spec?: { template?: k8s.V1PodTemplateSpec } } | undefined,
  container?: string,
): k8s.V1EnvVar[] {
  const cs = w?.spec?.template?.spec?.containers ?? [];
  const c = container ? cs.find((x) => x.name === container) : cs[0];
  // Plain objects, not the client's V1EnvVar instances, so deepEqual compares values only.
  return JSON.parse(JSON.stringify(c?.env ?? [])) as k8s.V1EnvVar[];
}
