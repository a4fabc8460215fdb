/**
 * A stand-in for an application's own HTTP endpoints (health, recovery, DLQ redrive, cache
 * warm, metrics). The lab has no container runtime, so the seed's applications cannot run;
 * each scenario describes the few endpoints its Runbook calls and the metrics its alert rules
 * read, and this small server answers them on a loopback port. Everything behind the
 * endpoints that can be real is real (the Redis, the PostgreSQL, the Deployment's env).
 *
 * Every request is recorded with its headers and body, so a scenario can assert that an
 * endpoint was called once, with the step's Idempotency-Key.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';

export interface Request {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: Record<string, string>;
  body: string;
}

export interface Reply {
  status: number;
  body?: unknown;
}

export type Handler = (req: Request) => Reply | Promise<Reply>;

export interface RecordedCall extends Request {
  /** Milliseconds since the epoch. */
  at: number;
  status: number;
}

export class StandIn {
  /** Its metrics, served on GET /metrics. */
  readonly registry = new Registry();
  readonly calls: RecordedCall[] = [];
  private readonly routes = new Map<string, Handler>();
  private server: Server | undefined;
  private address: AddressInfo | undefined;

  /** `name` says which application this stands in for (shown in errors and the timeline). */
  constructor(readonly name: string) {
    this.route('GET', '/metrics', async () => ({ status: 200, body: await this.registry.metrics() }));
  }

  route(method: string, path: string, handler: Handler): this {
    this.routes.set(`${method} ${path}`, handler);
    return this;
  }

  get host(): string {
    return '127.0.0.1';
  }

  get port(): number {
    if (!this.address) throw new Error(`stand-in ${this.name} is not listening`);
    return this.address.port;
  }

  /** `host:port`, the form Prometheus targets take. */
  get hostPort(): string {
    return `${this.host}:${this.port}`;
  }

  get url(): string {
    return `http://${this.hostPort}`;
  }

  /** Calls to one endpoint so far. */
  callsTo(method: string, path: string): RecordedCall[] {
    return this.calls.filter((c) => c.method === method && c.path === path);
  }

  async listen(): Promise<this> {
    const server = createServer((req, res) => void this.serve(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, this.host, () => resolve());
    });
    this.server = server;
    this.address = server.address() as AddressInfo;
    return this;
  }

  async close(): Promise<void> {
    const s = this.server;
    if (!s) return;
    this.server = undefined;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const url = new URL(req.url ?? '/', 'http://stand-in');
    const request: Request = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query: url.searchParams,
      headers: Object.fromEntries(
        Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(',') : (v ?? '')]),
      ),
      body: Buffer.concat(chunks).toString('utf8'),
    };
    const handler = this.routes.get(`${request.method} ${request.path}`);
    let reply: Reply;
    try {
      reply = handler ? await handler(request) : { status: 404, body: { error: 'no such endpoint' } };
    } catch (err) {
      reply = { status: 500, body: { error: err instanceof Error ? err.message : String(err) } };
    }
    if (request.path !== '/metrics') this.calls.push({ ...request, at: Date.now(), status: reply.status });
    const text = typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body ?? {});
    res.writeHead(reply.status, {
      'content-type': typeof reply.body === 'string' ? 'text/plain; version=0.0.4' : 'application/json',
    });
    res.end(text);
  }
}
