/**
 * The small port over @kubernetes/client-node that the rest of the operator uses. Everything
 * that talks to the API server goes through here, so tests can point it at any cluster.
 */
import { createHash } from 'node:crypto';
import type { Agent } from 'node:http';
import * as k8s from '@kubernetes/client-node';
import { loadKubeTarget } from './kubeconfig.js';

export interface KubeClients {
  readonly kc: k8s.KubeConfig;
  readonly core: k8s.CoreV1Api;
  readonly apps: k8s.AppsV1Api;
  readonly custom: k8s.CustomObjectsApi;
  readonly coordination: k8s.CoordinationV1Api;
  readonly events: k8s.EventsV1Api;
  readonly objects: k8s.KubernetesObjectApi;
}

/**
 * Loads a kubeconfig: the given path, else $KUBECONFIG, ~/.kube/config, then in-cluster; a
 * KR_ERR_KUBECONFIG naming what is wrong when none is usable (src/kube/kubeconfig.ts).
 */
export function loadKubeConfig(path?: string): k8s.KubeConfig {
  return loadKubeTarget(path ?? process.env.KUBECONFIG ?? '').kc;
}

/** Context names client-node makes up when there is no kubeconfig (in a pod, or nothing found). */
const MADE_UP_CONTEXTS = new Set(['inClusterContext', 'loaded-context']);

/**
 * The kubeconfig's current context: what people call a cluster outside it (`kind-dev`,
 * `prod-eu`). Undefined in a pod, whose made-up context names nothing.
 */
export function contextClusterName(kc: k8s.KubeConfig): string | undefined {
  const name = kc.getCurrentContext();
  return name && !MADE_UP_CONTEXTS.has(name) ? name : undefined;
}

type AgentOptions = Record<string, unknown> & { keepAlive?: boolean };
type CreateAgent = (cluster: k8s.Cluster | null, options: AgentOptions) => Agent;

/**
 * client-node 1.4 builds a new https.Agent for every request, so every API call pays a TCP and
 * TLS handshake (the controller benchmark measured it at half of a PATCH's time). Reuse one
 * keep-alive agent per distinct TLS setting instead. Proxied clusters keep the library's path.
 */
export function reuseConnections(kc: k8s.KubeConfig): k8s.KubeConfig {
  const target = kc as unknown as { createAgent: CreateAgent; __krReuse?: boolean };
  if (target.__krReuse) return kc;
  const original = target.createAgent.bind(kc);
  const agents = new Map<string, Agent>();
  target.createAgent = (cluster, options) => {
    if (cluster?.proxyUrl) return original(cluster, options);
    const key = createHash('sha256')
      .update(
        JSON.stringify([
          cluster?.server,
          options.rejectUnauthorized,
          options.servername,
          pemText(options.ca),
          pemText(options.cert),
          pemText(options.key),
        ]),
      )
      .digest('hex');
    let agent = agents.get(key);
    if (!agent) {
      // A rotated client certificate makes a new key; keep the set small.
      if (agents.size >= 8) agents.clear();
      agent = original(cluster, { ...options, keepAlive: true });
      agents.set(key, agent);
    }
    return agent;
  };
  target.__krReuse = true;
  return kc;
}

/** TLS material (string, Buffer or a list of them) as text, for the agent cache key. */
function pemText(v: unknown): string {
  if (v === undefined || v === null) return '';
  if (Array.isArray(v)) return v.map(pemText).join('\n');
  if (Buffer.isBuffer(v)) return v.toString('utf8');
  return typeof v === 'string' ? v : JSON.stringify(v);
}

export function makeClients(kc: k8s.KubeConfig): KubeClients {
  reuseConnections(kc);
  return {
    kc,
    core: kc.makeApiClient(k8s.CoreV1Api),
    apps: kc.makeApiClient(k8s.AppsV1Api),
    custom: kc.makeApiClient(k8s.CustomObjectsApi),
    coordination: kc.makeApiClient(k8s.CoordinationV1Api),
    events: kc.makeApiClient(k8s.EventsV1Api),
    objects: k8s.KubernetesObjectApi.makeApiClient(kc),
  };
}

/** Per-call options that set the patch Content-Type (client-node defaults to JSON patch). */
export const PATCH = {
  merge: k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
  strategic: k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.StrategicMergePatch),
  json: k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.JsonPatch),
  apply: k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.ServerSideApply),
} as const;

/** The HTTP status of a failed API call, or undefined when the server was not reached. */
export function statusCode(err: unknown): number | undefined {
  if (err instanceof k8s.ApiException) return err.code;
  const code = (err as { code?: unknown; statusCode?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

/** The Kubernetes Status body of a failed call, parsed (client-node keeps it as a string). */
export function statusBody(err: unknown): { reason?: string; message?: string; code?: number } | undefined {
  if (!(err instanceof k8s.ApiException)) return undefined;
  const body: unknown = err.body;
  if (typeof body === 'string') {
    try {
      return JSON.parse(body) as { reason?: string; message?: string };
    } catch {
      return { message: body };
    }
  }
  return body as { reason?: string; message?: string };
}

export const isNotFound = (err: unknown): boolean => statusCode(err) === 404;
export const isConflict = (err: unknown): boolean => statusCode(err) === 409;
/** 409 on create: the name is taken. */
export const isAlreadyExists = (err: unknown): boolean =>
  statusCode(err) === 409 && statusBody(err)?.reason === 'AlreadyExists';
/** The API server could not be reached or is not serving: retry later. */
export function isUnavailable(err: unknown): boolean {
  const code = statusCode(err);
  if (code === undefined) return true;
  return code === 429 || code >= 500;
}

/** A short, human message for a failed API call. */
export function apiErrorMessage(err: unknown): string {
  const body = statusBody(err);
  if (body?.message) return body.message;
  if (err instanceof Error) return err.message;
  return String(err);
}
