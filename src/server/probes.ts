/**
 * The operator's own endpoints: /healthz (liveness), /readyz (readiness) and /metrics.
 * Built by a factory so tests use inject(); `listenProbeServer` binds it separately.
 *
 * Liveness fails only when restarting the process could help (an informer wedged for many
 * minutes), never because the API server is briefly away. Readiness is false until the
 * caches have synced and from the first moment of a shutdown; standbys are ready too, since
 * readiness says "this process is healthy", not "this process leads".
 */
import Fastify, { type FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import type { Logger } from '../observability/logger.js';
import { errorMessage } from '../util/errors.js';
import { listenOrExplain } from './listen.js';

export interface ProbeCheck {
  ok: boolean;
  /** Why not, for people reading the probe's body. */
  reason?: string;
}

export interface ProbeDeps {
  registry: Registry;
  health(): ProbeCheck;
  readiness(): ProbeCheck;
  logger?: Logger;
}

export const PROBE_PATHS = { healthz: '/healthz', readyz: '/readyz', metrics: '/metrics' } as const;

export function buildProbeServer(deps: ProbeDeps): FastifyInstance {
  const app = Fastify({ logger: false });

  const probe = (check: () => ProbeCheck) => (_req: unknown, reply: import('fastify').FastifyReply) => {
    const result = check();
    if (result.ok) return reply.code(200).type('text/plain; charset=utf-8').send('ok');
    return reply.code(503).send({ status: 'failed', reason: result.reason ?? 'unknown' });
  };
  app.get(
    PROBE_PATHS.healthz,
    probe(() => deps.health()),
  );
  app.get(
    PROBE_PATHS.readyz,
    probe(() => deps.readiness()),
  );

  app.get(PROBE_PATHS.metrics, async (_req, reply) => {
    try {
      const body = await deps.registry.metrics();
      return reply.code(200).header('content-type', deps.registry.contentType).send(body);
    } catch (err) {
      deps.logger?.error('metrics collection failed', { error: errorMessage(err) });
      return reply.code(500).type('text/plain; charset=utf-8').send('metrics collection failed');
    }
  });
  return app;
}

/** Binds the server; returns its base URL (port 0 picks a free port). */
export async function listenProbeServer(
  app: FastifyInstance,
  opts: { host: string; port: number },
): Promise<string> {
  await listenOrExplain(() => app.listen({ host: opts.host, port: opts.port }), {
    what: 'probes (/healthz, /readyz, /metrics)',
    ...opts,
    setting: 'probes.port',
  });
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : opts.port;
  const host = opts.host === '0.0.0.0' || opts.host === '::' ? '127.0.0.1' : opts.host;
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}
