/**
 * A counting HTTPS proxy for the API server: it terminates TLS with a throw-away self-signed
 * certificate (made by `openssl`, since Node has no X.509 builder), records the method and
 * path of every request it receives, and forwards it over a keep-alive connection pool.
 * Watches stream through; a new watch is one request, a watch staying open is not counted again.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, Agent, request, type Server } from 'node:https';
import type { IncomingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';

export interface RecordedRequest {
  /** performance.now() when the request arrived. */
  at: number;
  method: string;
  path: string;
  watch: boolean;
  /** The response status, once known. */
  status?: number;
}

const HOP_BY_HOP = [
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'te',
  'trailer',
];

function forwardable(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  const out: IncomingHttpHeaders = { ...headers };
  for (const h of HOP_BY_HOP) delete out[h];
  return out;
}

export class CountingProxy {
  readonly requests: RecordedRequest[] = [];

  private constructor(
    private readonly server: Server,
    private readonly agent: Agent,
    readonly url: string,
  ) {}

  static async start(upstream: string): Promise<CountingProxy> {
    const dir = mkdtempSync(join(tmpdir(), 'kr-bench-proxy-'));
    try {
      await execa('openssl', [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
      ]);
      const key = readFileSync(join(dir, 'key.pem'));
      const cert = readFileSync(join(dir, 'cert.pem'));
      const target = new URL(upstream);
      // The API server's serving certificate is self-signed too; this is loopback only.
      const agent = new Agent({ keepAlive: true, rejectUnauthorized: false, maxSockets: 256 });
      const ref: { proxy?: CountingProxy } = {};
      const server = createServer({ key, cert }, (req, res) => {
        const url = new URL(req.url ?? '/', 'https://proxy');
        const rec: RecordedRequest = {
          at: performance.now(),
          method: req.method ?? 'GET',
          path: url.pathname,
          watch: url.searchParams.get('watch') === 'true' || url.searchParams.get('watch') === '1',
        };
        ref.proxy?.requests.push(rec);
        const up = request(
          {
            host: target.hostname,
            port: target.port,
            method: req.method,
            path: req.url,
            headers: { ...forwardable(req.headers), host: target.host },
            agent,
          },
          (ur) => {
            rec.status = ur.statusCode;
            res.writeHead(ur.statusCode ?? 502, forwardable(ur.headers));
            res.flushHeaders();
            ur.pipe(res);
          },
        );
        up.on('error', () => {
          if (!res.headersSent) res.writeHead(502);
          res.end();
        });
        // The client went away (e.g. an informer stopping its watch): close upstream too.
        res.on('close', () => {
          if (!res.writableFinished) up.destroy();
        });
        req.pipe(up);
      });
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, '127.0.0.1', () => resolve());
      });
      const addr = server.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      ref.proxy = new CountingProxy(server, agent, `https://127.0.0.1:${port}`);
      return ref.proxy;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  /** Requests that arrived in [from, to) (performance.now() times). */
  between(from: number, to = Infinity): RecordedRequest[] {
    return this.requests.filter((r) => r.at >= from && r.at < to);
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.agent.destroy();
  }
}

/** The path with the names of many-instance objects replaced by `{name}`. */
export function normalizePath(path: string): string {
  return path.replace(/\/(remediations|deployments|pods|replicasets|events)\/[^/]+/, '/$1/{name}');
}

/** `METHOD path` (watches marked, object names folded), with counts, most frequent first. */
export function breakdown(reqs: readonly RecordedRequest[]): { key: string; count: number }[] {
  const counts = new Map<string, number>();
  for (const r of reqs) {
    const key = `${r.method} ${normalizePath(r.path)}${r.watch ? ' (watch)' : ''}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts.entries()]
    .map(([key, count]) => ({ key, count }))
    .sort((a, b) => b.count - a.count || a.key.localeCompare(b.key));
}
