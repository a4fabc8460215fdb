/** Kubernetes helpers for the benchmarks: objects, watches, bounded concurrency. */
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';
import * as k8s from '@kubernetes/client-node';
import { GROUP, VERSION } from '../../src/api/v1alpha1/constants.js';

/** A readable message of anything thrown. */
export function errText(err: unknown): string {
  return err instanceof Error ? err.message : typeof err === 'string' ? err : JSON.stringify(err);
}

export const MERGE_PATCH = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);
export const API_VERSION = `${GROUP}/${VERSION}`;

export function kubeConfigFrom(path: string): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(path);
  return kc;
}

export function deploymentBody(name: string, replicas: number): k8s.V1Deployment {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, labels: { app: name } },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name: 'app', image: 'registry.k8s.io/pause:3.9' }] },
      },
    },
  };
}

/** Polls `fn` until it returns a value other than undefined/false. */
export async function waitUntil<T>(
  fn: () => Promise<T | undefined | false> | T | undefined | false,
  what: string,
  timeoutMs = 60_000,
  intervalMs = 250,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      lastErr = err;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${lastErr ? `: ${errText(lastErr)}` : ''}`,
      );
    }
    await sleep(intervalMs);
  }
}

export interface WatchHandle {
  stop(): void;
}

/**
 * Watches `path` from now on, calling `onEvent` with the arrival time (performance.now(), taken
 * first thing in the callback). Re-watches from the last resourceVersion if the watch ends.
 */
export async function watchPath(
  kc: k8s.KubeConfig,
  path: string,
  onEvent: (type: string, obj: k8s.KubernetesObject, at: number) => void,
  warn: (msg: string) => void,
): Promise<WatchHandle> {
  const w = new k8s.Watch(kc);
  let stopped = false;
  let rv: string | undefined;
  let ctrl: AbortController | undefined;
  const start = async (): Promise<void> => {
    ctrl = await w.watch(
      path,
      { timeoutSeconds: 3600, ...(rv ? { resourceVersion: rv } : {}) },
      (type: string, obj: k8s.KubernetesObject) => {
        const at = performance.now();
        if (type === 'ERROR') return;
        rv = obj?.metadata?.resourceVersion ?? rv;
        onEvent(type, obj, at);
      },
      (err: unknown) => {
        if (stopped) return;
        if (err) warn(`watch ${path} ended: ${errText(err)}; watching again`);
        setTimeout(
          () => void start().catch((e: unknown) => warn(`watch ${path} restart failed: ${String(e)}`)),
          100,
        );
      },
    );
  };
  await start();
  return {
    stop: () => {
      stopped = true;
      ctrl?.abort();
    },
  };
}

/** Runs `fn(i)` for i in [0, n) with at most `concurrency` calls in flight. */
export async function pool(n: number, concurrency: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    for (;;) {
      const i = next++;
      if (i >= n) return;
      await fn(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, () => worker()));
}

/** Retries an API call on throttling, 5xx and connection errors (not on 4xx). */
export async function withRetry<T>(fn: () => Promise<T>, attempts = 6): Promise<T> {
  for (let i = 0; ; i++) {
    try {
      return await fn();
    } catch (err) {
      const code = err instanceof k8s.ApiException ? err.code : undefined;
      const transient = code === undefined || code === 429 || code >= 500;
      if (!transient || i >= attempts - 1) throw err;
      await sleep(100 * 2 ** i);
    }
  }
}

/**
 * A merge PATCH over one kept-alive HTTPS connection (as client-go would send it): the round
 * trip without a TCP and TLS handshake. Returns the round trip in ms; throws on a non-2xx answer.
 */
export function keepAlivePatcher(
  server: string,
  token: string,
): { patch(path: string, body: unknown): Promise<number>; close(): void } {
  const agent = new HttpsAgent({ keepAlive: true, maxSockets: 1, rejectUnauthorized: false });
  const base = new URL(server);
  return {
    patch: (path, body) =>
      new Promise((resolve, reject) => {
        const data = JSON.stringify(body);
        const t0 = performance.now();
        const req = httpsRequest(
          {
            host: base.hostname,
            port: base.port,
            method: 'PATCH',
            path,
            agent,
            headers: {
              authorization: `Bearer ${token}`,
              'content-type': 'application/merge-patch+json',
              accept: 'application/json',
              'content-length': Buffer.byteLength(data),
            },
          },
          (res) => {
            res.resume();
            res.on('end', () => {
              const dt = performance.now() - t0;
              if ((res.statusCode ?? 0) >= 300) reject(new Error(`PATCH ${path}: ${res.statusCode}`));
              else resolve(dt);
            });
          },
        );
        req.on('error', reject);
        req.end(data);
      }),
    close: () => agent.destroy(),
  };
}
