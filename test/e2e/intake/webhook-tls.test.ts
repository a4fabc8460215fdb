/**
 * Webhook TLS end to end: the operator's bundle, run as the image runs it, serves its webhook
 * over HTTPS with a certificate from files laid out as a mounted Secret. A client that trusts
 * the CA posts an alert; the Secret is then updated the way the kubelet does it (the `..data`
 * symlink swapped), and the same process serves the new certificate with no restart. Missing or
 * unusable files stop the start with KR_ERR_WEBHOOK_TLS (exit 10).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { freePort } from '../../../tools/cluster/cluster.js';
import { createNamespace, deleteNamespace, waitFor } from '../../support/kube.js';
import { startOperator, type OperatorProcess } from '../../support/operator.js';
import { makeCa, makeServerCert, writeSecretVolume, type TestCa, type TestCert } from '../../support/tls.js';
import { aPayload, anAlert } from '../../unit/intake/builders.js';

const TOKEN = 'e2e-webhook-tls-token';
let ns: string;
let dir: string;
let ca: TestCa;
let one: TestCert;
let two: TestCert;
const procs: OperatorProcess[] = [];

beforeAll(async () => {
  ns = await createNamespace('webhook-tls');
  dir = mkdtempSync(join(process.env.KR_TEST_CLUSTER_DIR ?? tmpdir(), 'kr-webhook-tls-'));
  ca = await makeCa(dir);
  one = await makeServerCert(dir, ca, 'webhook-one');
  two = await makeServerCert(dir, ca, 'webhook-two');
}, 60_000);

afterAll(async () => {
  for (const p of procs) {
    p.kill('SIGTERM');
    await p.exited;
  }
  rmSync(dir, { recursive: true, force: true });
  await deleteNamespace(ns);
});

async function operator(secretDir: string): Promise<{ proc: OperatorProcess; port: number }> {
  const [port, probes] = [await freePort(), await freePort()];
  const proc = startOperator({
    env: {
      KR_WATCH_NAMESPACE: ns,
      KR_LEADER_ELECTION_NAMESPACE: ns,
      KR_WEBHOOK_HOST: '127.0.0.1',
      KR_WEBHOOK_PORT: String(port),
      KR_PROBES_HOST: '127.0.0.1',
      KR_PROBES_PORT: String(probes),
      KR_WEBHOOK_BEARER_TOKEN: TOKEN,
      KR_WEBHOOK_TLS_CERT_FILE: join(secretDir, 'tls.crt'),
      KR_WEBHOOK_TLS_KEY_FILE: join(secretDir, 'tls.key'),
      // Long: the reload this test sees must come from the directory watch.
      KR_WEBHOOK_TLS_RELOAD_INTERVAL: '1h',
    },
  });
  procs.push(proc);
  return { proc, port };
}

/** The common name of the certificate the server presents, verified against the CA. */
function servedName(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, ca: ca.cert, servername: 'localhost' }, () => {
      const cn = socket.getPeerCertificate().subject?.CN;
      socket.end();
      resolve(Array.isArray(cn) ? cn.join(',') : (cn ?? ''));
    });
    socket.on('error', reject);
  });
}

/** POSTs JSON over HTTPS trusting only the test CA (a fresh connection each time). */
function postHttps(port: number, body: unknown, token = TOKEN): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: '/api/v1/alerts',
        method: 'POST',
        ca: ca.cert,
        servername: 'localhost',
        agent: false,
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

describe('webhook TLS', () => {
  it('serves HTTPS with the mounted certificate, and the replaced one without a restart', async () => {
    const secretDir = join(dir, 'secret');
    mkdirSync(secretDir);
    writeSecretVolume(secretDir, { 'tls.crt': one.cert, 'tls.key': one.key });
    const { proc, port } = await operator(secretDir);
    const started = await proc.waitForLog('operator started', 60_000);
    expect(started).toContain(`https://127.0.0.1:${port}/api/v1/alerts`);

    expect(await servedName(port)).toBe('webhook-one');
    const alert = aPayload([anAlert({ labels: { alertname: 'NothingMatchesThis', namespace: ns } })]);
    // 503 until the Runbook cache has synced.
    const ok = await waitFor(
      async () => {
        const r = await postHttps(port, alert);
        return r.status === 200 ? r : undefined;
      },
      { what: 'a 200 over HTTPS' },
    );
    expect(JSON.parse(ok.body)).toMatchObject({ status: 'ok', received: 1 });
    expect((await postHttps(port, alert, 'wrong-token')).status).toBe(401);

    writeSecretVolume(secretDir, { 'tls.crt': two.cert, 'tls.key': two.key });
    await proc.waitForLog('webhook certificate reloaded', 60_000);
    await waitFor(async () => (await servedName(port)) === 'webhook-two', {
      what: 'the new certificate served',
    });
    expect((await postHttps(port, alert)).status).toBe(200);
    // The same process all along.
    expect(proc.logs().filter((l) => l.includes('operator started'))).toHaveLength(1);
    expect(await Promise.race([proc.exited.then(() => 'exited'), Promise.resolve('running')])).toBe(
      'running',
    );
  }, 120_000);

  it.each<[string, (d: string) => void, string]>([
    ['missing files', () => undefined, 'cannot read the webhook TLS certificate file'],
    [
      'a key of another certificate',
      (d) => writeSecretVolume(d, { 'tls.crt': one.cert, 'tls.key': two.key }),
      'the key does not belong to the certificate',
    ],
  ])(
    '%s: exit 10 with KR_ERR_WEBHOOK_TLS',
    async (name, prepare, message) => {
      const secretDir = join(dir, name.replace(/\W+/g, '-'));
      mkdirSync(secretDir);
      prepare(secretDir);
      const { proc } = await operator(secretDir);
      expect(await proc.exited).toBe(10);
      const text = proc.logs().join('\n');
      expect(text).toContain('KR_ERR_WEBHOOK_TLS');
      expect(text).toContain(message);
    },
    90_000,
  );
});
