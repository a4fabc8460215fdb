/**
 * The webhook's HTTP contract through inject(): authentication, limits, content type,
 * validation and versions, each with its stable code and status. No alert here reaches the
 * API server (no Runbook matches), so the clients point at a closed port.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from '@jest/globals';
import type { FastifyInstance } from 'fastify';
import { buildWebhookServer } from '../../../src/intake/server.js';
import { aPayload, anAlert, counter, recordingLogger, unitDeps, webhookConfig } from './builders.js';

const PATH = '/api/v1/alerts';
const FIXTURES = join(process.cwd(), 'test/fixtures/alertmanager');
const apps: FastifyInstance[] = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((a) => a.close()));
});

function build(deps = unitDeps()): ReturnType<typeof buildWebhookServer> & { deps: typeof deps } {
  const s = buildWebhookServer(deps);
  apps.push(s.app);
  return { ...s, deps };
}

const bearer = (t: string) => ({ authorization: `Bearer ${t}` });
const basic = (u: string, p: string) => ({
  authorization: `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`,
});

describe('authentication', () => {
  it.each([
    ['no header', {}],
    ['a wrong bearer token', bearer('wrong')],
    ['a bearer token that is a prefix of the right one', bearer('s3cret')],
    ['an empty bearer token', { authorization: 'Bearer ' }],
    ['basic auth when only a bearer token is configured', basic('am', 's3cret-token')],
    ['an unknown scheme', { authorization: 'Token s3cret-token' }],
  ])('answers 401 without detail for %s', async (_what, headers) => {
    const { app, deps } = build();
    const res = await app.inject({ method: 'POST', url: PATH, headers, payload: aPayload() });
    expect(res.statusCode).toBe(401);
    expect(res.json()).toEqual({ code: 'KR_ERR_UNAUTHORIZED', message: 'unauthorized' });
    expect(res.headers['www-authenticate']).toContain('Bearer');
    expect(await counter(deps.metrics.webhookRequests, { code: '401' })).toBe(1);
  });

  it('accepts the right bearer token, with any case of the scheme', async () => {
    const { app } = build();
    for (const scheme of ['Bearer', 'bearer']) {
      const res = await app.inject({
        method: 'POST',
        url: PATH,
        headers: { authorization: `${scheme} s3cret-token` },
        payload: aPayload(),
      });
      expect(res.statusCode).toBe(200);
    }
  });

  it('accepts basic auth and refuses a wrong user or password', async () => {
    const { app } = build(
      unitDeps({ config: webhookConfig({ bearerToken: '', basicUsername: 'am', basicPassword: 'pw' }) }),
    );
    const ok = await app.inject({
      method: 'POST',
      url: PATH,
      headers: basic('am', 'pw'),
      payload: aPayload(),
    });
    expect(ok.statusCode).toBe(200);
    for (const headers of [
      basic('am', 'wrong'),
      basic('other', 'pw'),
      basic('am', ''),
      { authorization: 'Basic !!!' },
      bearer('pw'),
    ]) {
      const res = await app.inject({ method: 'POST', url: PATH, headers, payload: aPayload() });
      expect(res.statusCode).toBe(401);
      expect(res.json()).toEqual({ code: 'KR_ERR_UNAUTHORIZED', message: 'unauthorized' });
    }
  });

  it('accepts ?token= only when allowed, and refuses a wrong one', async () => {
    const allowed = build(unitDeps({ config: webhookConfig({ allowQueryToken: true }) })).app;
    expect(
      (await allowed.inject({ method: 'POST', url: `${PATH}?token=s3cret-token`, payload: aPayload() }))
        .statusCode,
    ).toBe(200);
    const wrong = await allowed.inject({ method: 'POST', url: `${PATH}?token=nope`, payload: aPayload() });
    expect(wrong.statusCode).toBe(401);
    expect(wrong.json()).toEqual({ code: 'KR_ERR_UNAUTHORIZED', message: 'unauthorized' });

    const notAllowed = build().app;
    expect(
      (await notAllowed.inject({ method: 'POST', url: `${PATH}?token=s3cret-token`, payload: aPayload() }))
        .statusCode,
    ).toBe(401);
  });

  it('reads the token from a file and picks up a new one when the file changes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kr-intake-'));
    const file = join(dir, 'token');
    writeFileSync(file, 'from-file\n');
    const { app } = build(unitDeps({ config: webhookConfig({ bearerToken: '', bearerTokenFile: file }) }));
    expect(
      (await app.inject({ method: 'POST', url: PATH, headers: bearer('from-file'), payload: aPayload() }))
        .statusCode,
    ).toBe(200);

    await sleep(1100); // a new mtime second, whatever the file system's resolution
    writeFileSync(file, 'rotated');
    const deadline = Date.now() + 10_000;
    let code = 0;
    while (Date.now() < deadline) {
      code = (
        await app.inject({ method: 'POST', url: PATH, headers: bearer('rotated'), payload: aPayload() })
      ).statusCode;
      if (code === 200) break;
      await sleep(200);
    }
    expect(code).toBe(200);
    expect(
      (await app.inject({ method: 'POST', url: PATH, headers: bearer('from-file'), payload: aPayload() }))
        .statusCode,
    ).toBe(401);
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses to start with auth on and no credential', () => {
    expect(() => buildWebhookServer(unitDeps({ config: webhookConfig({ bearerToken: '' }) }))).toThrow(
      expect.objectContaining({ code: 'KR_ERR_CONFIG' }),
    );
  });

  it('refuses to start when the token file cannot be read', () => {
    expect(() =>
      buildWebhookServer(
        unitDeps({ config: webhookConfig({ bearerToken: '', bearerTokenFile: '/nonexistent/token' }) }),
      ),
    ).toThrow(expect.objectContaining({ code: 'KR_ERR_CONFIG' }));
  });

  it('accepts anything only when auth is disabled explicitly, and warns at start', async () => {
    const { log, records } = recordingLogger();
    const { app } = build(unitDeps({ log, config: webhookConfig({ disabled: true, bearerToken: '' }) }));
    const res = await app.inject({ method: 'POST', url: PATH, payload: aPayload() });
    expect(res.statusCode).toBe(200);
    expect(records.some((r) => r.level === 'warn' && /authentication is disabled/.test(r.message))).toBe(
      true,
    );
  });

  it('checks credentials before reading the body (401, not 413, for a large anonymous body)', async () => {
    const { app } = build(unitDeps({ config: webhookConfig({}, { bodyLimit: 1024 }) }));
    const res = await app.inject({
      method: 'POST',
      url: PATH,
      payload: aPayload([anAlert({ annotations: { big: 'x'.repeat(5000) } })]),
    });
    expect(res.statusCode).toBe(401);
  });
});

describe('request checks', () => {
  const auth = bearer('s3cret-token');

  it('answers 413 above the body limit', async () => {
    const { app, deps } = build(unitDeps({ config: webhookConfig({}, { bodyLimit: 1024 }) }));
    const res = await app.inject({
      method: 'POST',
      url: PATH,
      headers: auth,
      payload: aPayload([anAlert({ annotations: { big: 'x'.repeat(5000) } })]),
    });
    expect(res.statusCode).toBe(413);
    expect(res.json()).toEqual({ code: 'KR_ERR_PAYLOAD_TOO_LARGE', message: expect.any(String) });
    expect(await counter(deps.metrics.webhookRequests, { code: '413' })).toBe(1);
  });

  it.each([
    ['text/plain', 'hello'],
    ['application/x-www-form-urlencoded', 'a=b'],
    ['application/xml', '<a/>'],
  ])('answers 415 for %s', async (type, body) => {
    const { app } = build();
    const res = await app.inject({
      method: 'POST',
      url: PATH,
      headers: { ...auth, 'content-type': type },
      payload: body,
    });
    expect(res.statusCode).toBe(415);
    expect(res.json()).toEqual({
      code: 'KR_ERR_UNSUPPORTED_MEDIA_TYPE',
      message: 'content type must be application/json',
    });
  });

  it('accepts application/json with a charset', async () => {
    const { app } = build();
    const res = await app.inject({
      method: 'POST',
      url: PATH,
      headers: { ...auth, 'content-type': 'application/json; charset=utf-8' },
      payload: JSON.stringify(aPayload()),
    });
    expect(res.statusCode).toBe(200);
  });

  it.each([
    [
      'a missing startsAt',
      () => aPayload([{ ...anAlert(), startsAt: undefined as unknown as string }]),
      'alerts[0].startsAt',
    ],
    [
      'a startsAt that is not a time',
      () => aPayload([anAlert({ startsAt: 'yesterday' })]),
      'alerts[0].startsAt',
    ],
    [
      'an unknown status',
      () => aPayload([anAlert(), anAlert({ status: 'pending' as 'firing' })]),
      'alerts[1].status',
    ],
    [
      'a label that is an object',
      () => aPayload([anAlert({ labels: { severity: { x: 1 } as unknown as string } })]),
      'alerts[0].labels.severity',
    ],
    [
      'a fingerprint that is not hex',
      () => aPayload([anAlert({ fingerprint: '../../etc' })]),
      'alerts[0].fingerprint',
    ],
    ['no alerts array', () => ({ version: '4' }), 'alerts'],
    ['alerts that is not an array', () => ({ version: '4', alerts: {} }), 'alerts'],
  ])('answers 400 naming the field for %s', async (_what, payload, field) => {
    const { app } = build();
    const res = await app.inject({ method: 'POST', url: PATH, headers: auth, payload: payload() as object });
    expect(res.statusCode).toBe(400);
    const body = res.json<{ code: string; message: string; field: string }>();
    expect(body.code).toBe('KR_ERR_INVALID_PAYLOAD');
    expect(body.field).toBe(field);
    expect(body.message).toContain(field);
  });

  it('answers 400 for a body that is not JSON', async () => {
    const { app } = build();
    const res = await app.inject({
      method: 'POST',
      url: PATH,
      headers: { ...auth, 'content-type': 'application/json' },
      payload: '{"version":',
    });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ code: 'KR_ERR_INVALID_PAYLOAD' });
  });

  it.each(['3', '5', 4])('answers 400 naming the supported version for version %p', async (version) => {
    const { app } = build();
    const res = await app.inject({
      method: 'POST',
      url: PATH,
      headers: auth,
      payload: { ...aPayload(), version },
    });
    expect(res.statusCode).toBe(400);
    const body = res.json<{ code: string; message: string }>();
    expect(body.code).toBe('KR_ERR_UNSUPPORTED_VERSION');
    expect(body.message).toContain('"4"');
  });

  it('names version when it is missing', async () => {
    const { app } = build();
    const { version: _v, ...rest } = aPayload();
    const res = await app.inject({ method: 'POST', url: PATH, headers: auth, payload: rest });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ code: 'KR_ERR_INVALID_PAYLOAD', field: 'version' });
  });

  it.each(['firing.json', 'resolved.json'])(
    'accepts %s as Alertmanager 0.25 sent it (fixture)',
    async (file) => {
      const { app } = build();
      const payload = JSON.parse(readFileSync(join(FIXTURES, file), 'utf8')) as object;
      const res = await app.inject({ method: 'POST', url: PATH, headers: auth, payload });
      expect(res.statusCode).toBe(200);
      expect(res.json()).toMatchObject({
        received: 1,
        alerts: [{ alertname: 'AmWebDown', fingerprint: '58b8defb5baa4e00' }],
      });
    },
  );

  it('ignores unknown fields that newer Alertmanagers add', async () => {
    const { app } = build();
    const payload = aPayload([{ ...anAlert(), somethingNew: { x: 1 } } as never], {
      notification_reason: 'initial',
      routeLabels: { team: 'web' },
    });
    const res = await app.inject({ method: 'POST', url: PATH, headers: auth, payload });
    expect(res.statusCode).toBe(200);
  });

  it('answers 404 with a code on other paths', async () => {
    const { app } = build();
    const res = await app.inject({ method: 'POST', url: '/other', headers: auth, payload: aPayload() });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toMatchObject({ code: 'KR_ERR_NOT_FOUND' });
  });

  it('serves the configured path', async () => {
    const { app } = build(unitDeps({ config: webhookConfig({}, { path: '/hooks/am' }) }));
    expect(
      (await app.inject({ method: 'POST', url: '/hooks/am', headers: auth, payload: aPayload() })).statusCode,
    ).toBe(200);
    expect(
      (await app.inject({ method: 'POST', url: PATH, headers: auth, payload: aPayload() })).statusCode,
    ).toBe(404);
  });

  it('lists the outcome of each alert and counts it', async () => {
    const { app, deps } = build();
    const alerts = [anAlert({ fingerprint: '01' }), anAlert({ fingerprint: '02', status: 'resolved' })];
    const res = await app.inject({ method: 'POST', url: PATH, headers: auth, payload: aPayload(alerts) });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      status: 'ok',
      received: 2,
      alerts: [
        { fingerprint: '01', alertname: 'WebDown', status: 'firing', results: [{ outcome: 'unmatched' }] },
        {
          fingerprint: '02',
          alertname: 'WebDown',
          status: 'resolved',
          results: [{ outcome: 'resolved_unknown' }],
        },
      ],
    });
    expect(await counter(deps.metrics.alertsTotal, { outcome: 'unmatched' })).toBe(1);
    expect(await counter(deps.metrics.alertsTotal, { outcome: 'resolved_unknown' })).toBe(1);
    expect(await counter(deps.metrics.webhookRequests, { code: '200' })).toBe(1);
  });

  it('answers 503 when the Runbooks cannot be listed', async () => {
    const deps = unitDeps();
    deps.runbooks = () => Promise.reject(new Error('connect ECONNREFUSED'));
    const { app } = build(deps);
    const res = await app.inject({ method: 'POST', url: PATH, headers: auth, payload: aPayload() });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toMatchObject({ code: 'KR_ERR_KUBE_UNAVAILABLE' });
  });
});
