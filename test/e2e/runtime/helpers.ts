/** Helpers for the runtime's e2e tests: a cuttable TCP proxy, a recording logger, builders. */
import { createServer, connect, type Server, type Socket } from 'node:net';
import { Writable } from 'node:stream';
import * as k8s from '@kubernetes/client-node';
import winston from 'winston';
import type { Remediation } from '../../../src/api/v1alpha1/schema.js';
import { makeClients, type KubeClients } from '../../../src/kube/client.js';
import type { Logger } from '../../../src/observability/logger.js';
import { testKubeConfig, waitFor } from '../../support/kube.js';

/**
 * A TCP proxy in front of the API server. `cut()` resets every open connection and refuses
 * new ones until `restore()`: the client sees a dead network, while the server stays up for
 * everyone else. TLS passes through untouched (the server certificate names 127.0.0.1).
 */
export class CuttableProxy {
  private readonly sockets = new Set<Socket>();
  private cutOff = false;
  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(target: URL): Promise<CuttableProxy> {
    const ref: { proxy?: CuttableProxy } = {};
    const server = createServer((client) => {
      const proxy = ref.proxy;
      if (!proxy || proxy.cutOff) {
        client.resetAndDestroy();
        return;
      }
      const upstream = connect(Number(target.port), target.hostname);
      for (const s of [client, upstream]) {
        proxy.sockets.add(s);
        s.on('close', () => proxy.sockets.delete(s));
        s.on('error', () => {
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const addr = server.address();
    ref.proxy = new CuttableProxy(server, typeof addr === 'object' && addr ? addr.port : 0);
    return ref.proxy;
  }

  cut(): void {
    this.cutOff = true;
    for (const s of this.sockets) s.resetAndDestroy();
    this.sockets.clear();
  }

  restore(): void {
    this.cutOff = false;
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** The test cluster's kubeconfig, pointed at the proxy instead of the API server. */
export function kubeConfigVia(proxy: CuttableProxy): k8s.KubeConfig {
  const base = testKubeConfig();
  const cluster = base.getCurrentCluster()!;
  const server = new URL(cluster.server);
  server.port = String(proxy.port);
  const kc = new k8s.KubeConfig();
  kc.loadFromOptions({
    clusters: base.clusters.map((c) =>
      c.name === cluster.name ? { ...c, server: server.toString().replace(/\/$/, '') } : c,
    ),
    users: base.users,
    contexts: base.contexts,
    currentContext: base.getCurrentContext(),
  });
  return kc;
}

export async function proxiedClients(): Promise<{ proxy: CuttableProxy; clients: KubeClients }> {
  const target = new URL(testKubeConfig().getCurrentCluster()!.server);
  const proxy = await CuttableProxy.start(target);
  return { proxy, clients: makeClients(kubeConfigVia(proxy)) };
}

export interface LogRecord {
  level: string;
  message: string;
  [k: string]: unknown;
}

/** A winston logger that keeps every record, for asserting on constant messages and fields. */
export function recordingLogger(): { logger: Logger; records: LogRecord[] } {
  const records: LogRecord[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString().split('\n').filter(Boolean))
        records.push(JSON.parse(line) as LogRecord);
      cb();
    },
  });
  const logger = winston.createLogger({
    level: 'debug',
    format: winston.format.combine(winston.format.timestamp(), winston.format.json()),
    transports: [new winston.transports.Stream({ stream })],
  });
  return { logger, records };
}

export function aRemediation(name: string, extra: Partial<Remediation['spec']> = {}): Remediation {
  return {
    apiVersion: 'kube-remediator.io/v1alpha1',
    kind: 'Remediation',
    metadata: { name },
    spec: { runbookRef: { name: 'restart-web' }, ...extra },
  };
}

/** waitFor for a synchronous condition. */
export function eventually<T>(
  fn: () => T | undefined | false | null,
  opts: { timeoutMs?: number; intervalMs?: number; what?: string } = {},
): Promise<T> {
  return waitFor(() => Promise.resolve(fn()), opts);
}
