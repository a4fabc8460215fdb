/**
 * Container logs for the fake kubelet: what a kubelet serves at
 * `GET /containerLogs/{namespace}/{pod}/{container}` and the API server proxies for
 * `pods/{name}/log` (`kubectl logs`). The API server finds the kubelet through the pod's node:
 * its InternalIP and `status.daemonEndpoints.kubeletEndpoint.Port`. So this registers a Node
 * for itself (tainted, so that no DaemonSet puts pods on it) and binds the pods whose logs it
 * serves to that node through `pods/binding`, as a scheduler would. The rest is the API
 * server's own code path: the same request, query parameters and error pass-through as with a
 * real kubelet. The kubelet's `tailLines`, `limitBytes` and `previous` are honoured; the log
 * text is whatever the test says.
 *
 * A pod bound to a node is deleted gracefully (the API server waits for its kubelet): this one
 * finishes the deletion of its pods, as a kubelet does once their containers have stopped.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';

export interface ServedLog {
  /** The log of the running container, oldest line first. */
  lines: string[];
  /** The log of its previous (terminated) run; none: `previous=true` answers 400 as a kubelet does. */
  previous?: string[];
}

/** The log of a container of a pod, or undefined for an empty log. */
export type LogSource = (pod: string, container: string) => ServedLog | undefined;

interface LogRule {
  namespace: string;
  prefix: string;
  source: LogSource;
}

export const FAKE_NODE_TAINT = {
  key: 'kube-remediator.io/fake-kubelet',
  value: 'logs',
  effect: 'NoSchedule',
};

/** A kubelet's answer to containerLogs (pure): the newest tailLines lines, then the first limitBytes bytes. */
export function containerLogAnswer(
  log: ServedLog | undefined,
  query: URLSearchParams,
  names: { pod: string; container: string },
): { status: number; body: string } {
  const previous = query.get('previous') === 'true';
  const lines = previous ? log?.previous : (log?.lines ?? []);
  if (!lines)
    return {
      status: 400,
      body: `previous terminated container "${names.container}" in pod "${names.pod}" not found`,
    };
  const tail = query.get('tailLines');
  const kept = tail !== null ? lines.slice(Math.max(0, lines.length - Number(tail))) : lines;
  let body = kept.map((l) => `${l}\n`).join('');
  const limit = query.get('limitBytes');
  if (limit !== null) body = Buffer.from(body).subarray(0, Number(limit)).toString('utf8');
  return { status: 200, body };
}

export class FakeKubeletLogs {
  readonly nodeName = `kr-fake-kubelet-${randomBytes(3).toString('hex')}`;
  private readonly rules: LogRule[] = [];
  private server?: Server;
  private started?: Promise<void>;
  private stopping?: Promise<void>;

  constructor(
    private readonly core: k8s.CoreV1Api,
    private readonly certDir: string,
  ) {}

  /** The rule that serves this pod's logs, if any (the most recent one wins). */
  ruleFor(namespace: string, pod: string): LogRule | undefined {
    for (let i = this.rules.length - 1; i >= 0; i--) {
      const r = this.rules[i]!;
      if (r.namespace === namespace && pod.startsWith(r.prefix)) return r;
    }
    return undefined;
  }

  async serve(namespace: string, prefix: string, source: LogSource): Promise<void> {
    this.rules.push({ namespace, prefix, source });
    this.started ??= this.start();
    await this.started;
  }

  /** Binds a pod this serves logs for to the node, once; it must not be bound elsewhere. */
  async bind(pod: k8s.V1Pod): Promise<void> {
    const name = pod.metadata?.name ?? '';
    const namespace = pod.metadata?.namespace ?? '';
    if (!this.server || pod.spec?.nodeName || !this.ruleFor(namespace, name)) return;
    await this.core
      .createNamespacedPodBinding({
        name,
        namespace,
        body: {
          metadata: { name, namespace },
          target: { apiVersion: 'v1', kind: 'Node', name: this.nodeName },
        },
      })
      .catch(() => undefined); // bound meanwhile, or gone
  }

  /** Finishes the graceful deletion of a pod on this node, as a kubelet does. */
  async finishDeletion(pod: k8s.V1Pod): Promise<void> {
    if (pod.spec?.nodeName !== this.nodeName || !pod.metadata?.deletionTimestamp) return;
    await this.core
      .deleteNamespacedPod({
        name: pod.metadata.name!,
        namespace: pod.metadata.namespace!,
        gracePeriodSeconds: 0,
        body: { gracePeriodSeconds: 0, preconditions: { uid: pod.metadata.uid } },
      })
      .catch(() => undefined);
  }

  stop(): Promise<void> {
    this.stopping ??= this.release();
    return this.stopping;
  }

  private async release(): Promise<void> {
    if (!this.started) return;
    await this.started.catch(() => undefined);
    // Nothing would finish their deletion after this: delete this node's pods at once.
    const pods = await this.core.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${this.nodeName}` });
    await Promise.all(
      pods.items.map((p) =>
        this.core
          .deleteNamespacedPod({
            name: p.metadata!.name!,
            namespace: p.metadata!.namespace!,
            gracePeriodSeconds: 0,
          })
          .catch(() => undefined),
      ),
    );
    await this.core.deleteNode({ name: this.nodeName }).catch(() => undefined);
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private async start(): Promise<void> {
    // The API server does not verify a kubelet's certificate unless told a CA; its own serves.
    const server = createServer(
      {
        cert: readFileSync(join(this.certDir, 'apiserver.crt')),
        key: readFileSync(join(this.certDir, 'apiserver.key')),
      },
      (req, res) => {
        const url = new URL(req.url ?? '/', 'https://kubelet');
        const m = /^\/containerLogs\/([^/]+)\/([^/]+)\/([^/]+)$/.exec(url.pathname);
        if (req.method !== 'GET' || !m) return void res.writeHead(404).end('not found');
        const [namespace, pod, container] = m.slice(1).map(decodeURIComponent) as [string, string, string];
        const rule = this.ruleFor(namespace, pod);
        const answer = containerLogAnswer(rule?.source(pod, container), url.searchParams, { pod, container });
        res.writeHead(answer.status, { 'Content-Type': 'text/plain' }).end(answer.body);
      },
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.server = server;
    const port = (server.address() as AddressInfo).port;
    await this.core.createNode({
      body: { metadata: { name: this.nodeName }, spec: { taints: [FAKE_NODE_TAINT] } },
    });
    await this.core.patchNodeStatus(
      {
        name: this.nodeName,
        body: {
          status: {
            addresses: [{ type: 'InternalIP', address: '127.0.0.1' }],
            daemonEndpoints: { kubeletEndpoint: { Port: port } },
            conditions: [
              {
                type: 'Ready',
                status: 'True',
                reason: 'KubeletReady',
                message: 'fake kubelet serving logs',
                lastHeartbeatTime: new Date(),
                lastTransitionTime: new Date(),
              },
            ],
          },
        },
      },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
  }
}
