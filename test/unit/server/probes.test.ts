import { afterEach, describe, expect, it } from '@jest/globals';
import type { FastifyInstance } from 'fastify';
import { buildProbeServer, listenProbeServer, type ProbeCheck } from '../../../src/server/probes.js';
import { createMetrics } from '../../../src/observability/metrics.js';

function aProbeServer(state: { health?: ProbeCheck; ready?: ProbeCheck } = {}) {
  const metrics = createMetrics({ defaultMetrics: false });
  const app = buildProbeServer({
    registry: metrics.registry,
    health: () => state.health ?? { ok: true },
    readiness: () => state.ready ?? { ok: true },
  });
  return { app, metrics, state };
}

describe('probe server', () => {
  let app: FastifyInstance | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  it('answers /healthz and /readyz with 200 while all is well', async () => {
    ({ app } = aProbeServer());
    for (const url of ['/healthz', '/readyz']) {
      const res = await app.inject({ method: 'GET', url });
      expect(res.statusCode).toBe(200);
      expect(res.body).toBe('ok');
    }
  });

  it('answers /readyz with 503 and the reason while not ready, and follows the state', async () => {
    const s = aProbeServer({ ready: { ok: false, reason: 'caches not synced' } });
    app = s.app;
    const res = await app.inject({ method: 'GET', url: '/readyz' });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toEqual({ status: 'failed', reason: 'caches not synced' });
    s.state.ready = { ok: true };
    expect((await app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
    s.state.ready = { ok: false, reason: 'shutting down' };
    expect((await app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(503);
    // Liveness is independent of readiness.
    expect((await app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
  });

  it('answers /healthz with 503 when unhealthy', async () => {
    ({ app } = aProbeServer({ health: { ok: false, reason: 'informer remediations wedged' } }));
    const res = await app.inject({ method: 'GET', url: '/healthz' });
    expect(res.statusCode).toBe(503);
    expect(res.json().reason).toBe('informer remediations wedged');
  });

  it('serves the registry in Prometheus text format with its content type', async () => {
    const s = aProbeServer();
    app = s.app;
    s.metrics.reconcileTotal.inc({ controller: 'remediation', result: 'success' });
    const res = await app.inject({ method: 'GET', url: '/metrics' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe(s.metrics.registry.contentType);
    expect(res.body).toContain(
      'controller_runtime_reconcile_total{controller="remediation",result="success"} 1',
    );
    expect(res.body).toContain('leader_election_master_status{name="kube-remediator"} 0');
  });

  it('listens separately and reports its URL', async () => {
    ({ app } = aProbeServer());
    const url = await listenProbeServer(app, { host: '127.0.0.1', port: 0 });
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const res = await fetch(`${url}/healthz`);
    expect(res.status).toBe(200);
  });
});
