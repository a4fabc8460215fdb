/**
 * Every way the operator's start can fail, as a person meets it: the bundle run as the image
 * runs it, against the real control plane (a wrong token, no RBAC, no trusted CA), a second one
 * without the CRDs, a closed port, a taken port, an unreadable token file. Each must exit with
 * its documented code, print the kubeconfig file, context and server (or the setting) and the
 * fix, and leave no process behind.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execa } from 'execa';
import { OPERATOR_NODE_FLAGS } from '../../../src/cli/node-flags.js';
import { freePort, kubeconfigYaml, startCluster, type TestCluster } from '../../../tools/cluster/cluster.js';
import { REPO_ROOT } from '../../../tools/cluster/crds.js';
import {
  createNamespace,
  deleteNamespace,
  testClients,
  testKubeConfig,
  waitFor,
} from '../../support/kube.js';
import { isolatedOperatorEntry } from '../../support/operator.js';
import { leftRunning, newMarker, type ProcessInfo } from '../../support/processes.js';

const dir = mkdtempSync(join(tmpdir(), 'kr-startup-failures-'));
const home = join(dir, 'empty-home');
mkdirSync(home);
let ns: string;
let server: string;
let adminToken: string;
const servers: Server[] = [];

beforeAll(async () => {
  ns = await createNamespace('startup-failures');
  const cluster = testKubeConfig().getCurrentCluster()!;
  server = cluster.server;
  adminToken = testKubeConfig().getCurrentUser()!.token!;
});
afterAll(async () => {
  await deleteNamespace(ns);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  rmSync(dir, { recursive: true, force: true });
});

function kubeconfigFile(name: string, content: string): string {
  const file = join(dir, name);
  writeFileSync(file, content, { mode: 0o600 });
  return file;
}

interface Outcome {
  exitCode: number | undefined;
  stderr: string;
  stdout: string;
  left: ProcessInfo[];
}

/** `kube-remediator run` (the bundle, as the image runs it) with free ports and an empty HOME. */
async function run(
  env: Record<string, string>,
  command = [isolatedOperatorEntry(), 'run'],
): Promise<Outcome> {
  const marker = newMarker();
  const res = await execa(process.execPath, [...OPERATOR_NODE_FLAGS, ...command], {
    cwd: REPO_ROOT,
    env: {
      PATH: process.env.PATH,
      HOME: home,
      KR_WEBHOOK_HOST: '127.0.0.1',
      KR_WEBHOOK_PORT: String(await freePort()),
      KR_PROBES_HOST: '127.0.0.1',
      KR_PROBES_PORT: String(await freePort()),
      KR_WEBHOOK_BEARER_TOKEN: 'startup-failures',
      ...marker,
      ...env,
    },
    extendEnv: false,
    reject: false,
    timeout: 90_000,
  });
  return { exitCode: res.exitCode, stderr: res.stderr, stdout: res.stdout, left: await leftRunning(marker) };
}

/** The failure text: `kube-remediator: CODE: message`, then `  label  value` rows. */
function expectFailure(
  res: Outcome,
  want: { exit: number; code: string; facts?: Record<string, string>; cause?: string; fix: string },
): void {
  expect({ exit: res.exitCode, left: res.left }).toEqual({ exit: want.exit, left: [] });
  expect(res.stderr).toContain(`kube-remediator: ${want.code}: `);
  for (const [label, value] of Object.entries(want.facts ?? {}))
    expect(res.stderr).toMatch(
      new RegExp(`^ {2}${label} +${value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'),
    );
  if (want.cause) expect(res.stderr).toMatch(new RegExp(`^ {2}cause +.*${want.cause}`, 'm'));
  expect(res.stderr).toMatch(new RegExp(`^ {2}fix +.*${want.fix}`, 'm'));
  expect(res.stderr).toContain(`(exit code ${want.exit}; `);
}

describe('kube-remediator run: start-up failures', () => {
  it('no kubeconfig at all: exit 4, where it looked, and the sandbox as a way out', async () => {
    const res = await run({});
    expectFailure(res, {
      exit: 4,
      code: 'KR_ERR_KUBECONFIG',
      facts: { 'looked at': `${home}/.kube/config (no such file)` },
      fix: 'npm start',
    });
  });

  it('a kubeconfig that does not exist (--kubeconfig): exit 4 naming it', async () => {
    const missing = join(dir, 'no-such-kubeconfig');
    const res = await run({}, [isolatedOperatorEntry(), 'run', '--kubeconfig', missing]);
    expectFailure(res, {
      exit: 4,
      code: 'KR_ERR_KUBECONFIG',
      facts: { kubeconfig: missing },
      cause: 'the file does not exist',
      fix: 'point KUBECONFIG',
    });
  });

  it('connection refused: exit 5 naming file, context and server', async () => {
    const closed = `https://127.0.0.1:${await freePort()}`;
    const file = kubeconfigFile('refused', kubeconfigYaml(closed, adminToken));
    expectFailure(await run({ KUBECONFIG: file }), {
      exit: 5,
      code: 'KR_ERR_KUBE_UNAVAILABLE',
      facts: { kubeconfig: file, context: 'kr-test', server: closed },
      cause: 'connection refused',
      fix: 'start the cluster',
    });
  });

  it("a server certificate the kubeconfig does not trust: exit 5, TLS, set the cluster's CA", async () => {
    const file = kubeconfigFile(
      'untrusted',
      kubeconfigYaml(server, adminToken).replace('    insecure-skip-tls-verify: true\n', ''),
    );
    expectFailure(await run({ KUBECONFIG: file }), {
      exit: 5,
      code: 'KR_ERR_KUBE_UNAVAILABLE',
      facts: { kubeconfig: file, context: 'kr-test', server },
      cause: 'TLS: ',
      fix: 'certificate-authority',
    });
  });

  it('credentials the API server rejects: exit 6', async () => {
    const file = kubeconfigFile('wrong-token', kubeconfigYaml(server, 'not-a-valid-token'));
    expectFailure(await run({ KUBECONFIG: file }), {
      exit: 6,
      code: 'KR_ERR_KUBE_UNAUTHORIZED',
      facts: { kubeconfig: file, context: 'kr-test', server, user: 'kr-admin' },
      cause: '401 Unauthorized',
      fix: 'renew the credentials of context "kr-test"',
    });
  });

  it('a user without RBAC: exit 7 listing every missing permission', async () => {
    const core = testClients().core;
    await core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name: 'no-rights' } } });
    const token = await waitFor(
      async () => {
        const sa = await core.readNamespacedServiceAccount({ name: 'no-rights', namespace: ns });
        const secret = sa.secrets?.[0]?.name;
        if (!secret) return undefined;
        const s = await core.readNamespacedSecret({ name: secret, namespace: ns });
        return s.data?.token ? Buffer.from(s.data.token, 'base64').toString('utf8') : undefined;
      },
      { timeoutMs: 60_000, what: 'the service account token' },
    );
    const file = kubeconfigFile('no-rights', kubeconfigYaml(server, token));
    const res = await run({ KUBECONFIG: file, KR_WATCH_NAMESPACE: ns, KR_LEADER_ELECTION_NAMESPACE: ns });
    expectFailure(res, {
      exit: 7,
      code: 'KR_ERR_KUBE_FORBIDDEN',
      facts: {
        kubeconfig: file,
        context: 'kr-test',
        server,
        missing: `list runbooks.kube-remediator.io in namespace ${ns}`,
      },
      cause: '403 Forbidden',
      fix: `kubectl apply -k config/rbac.*auth can-i list runbooks.kube-remediator.io -n ${ns}`,
    });
    expect(res.stderr).toMatch(
      new RegExp(`^ {2}missing +get leases\\.coordination\\.k8s\\.io in namespace ${ns}$`, 'm'),
    );
  });

  describe('on a cluster without the CRDs', () => {
    let bare: TestCluster;
    beforeAll(async () => {
      bare = await startCluster({ controllerManager: false });
    }, 120_000);
    afterAll(() => bare?.stop());

    it('exit 8 naming the cluster, and how to install them', async () => {
      expectFailure(await run({ KUBECONFIG: bare.kubeconfigPath }), {
        exit: 8,
        code: 'KR_ERR_CRD_MISSING',
        facts: { kubeconfig: bare.kubeconfigPath, context: 'kr-test', server: bare.server },
        fix: 'kubectl apply -f crds/.*--install-crds',
      });
    });
  });

  it('a port in use (webhook or probes): exit 9 naming the port, its setting and how to change it', async () => {
    const taken = createServer();
    servers.push(taken);
    const port = await freePort();
    await new Promise<void>((r) => taken.listen(port, '127.0.0.1', r));
    const webhook = await run({ KUBECONFIG: process.env.KUBECONFIG!, KR_WEBHOOK_PORT: String(port) });
    expectFailure(webhook, {
      exit: 9,
      code: 'KR_ERR_PORT_IN_USE',
      facts: {
        address: `127.0.0.1:${port}`,
        setting: 'webhook.port (env KR_WEBHOOK_PORT, flag --webhook-port)',
      },
      cause: 'already in use',
      fix: 'stop the other process',
    });
    // The probes bind after the webhook: the webhook's socket must not keep the process alive.
    const probes = await run({ KUBECONFIG: process.env.KUBECONFIG!, KR_PROBES_PORT: String(port) });
    expectFailure(probes, {
      exit: 9,
      code: 'KR_ERR_PORT_IN_USE',
      facts: { setting: 'probes.port (env KR_PROBES_PORT, flag --probes-port)' },
      fix: 'choose another port',
    });
  });

  it('a webhook token file that cannot be read: exit 3 naming the file and the setting', async () => {
    const missing = join(dir, 'no-such-token');
    for (const [file, cause] of [
      [missing, 'the file does not exist'],
      [dir, 'it is a directory, not a file'],
    ] as const) {
      expectFailure(
        await run({
          KUBECONFIG: process.env.KUBECONFIG!,
          KR_WEBHOOK_BEARER_TOKEN: '',
          KR_WEBHOOK_BEARER_TOKEN_FILE: file,
        }),
        {
          exit: 3,
          code: 'KR_ERR_CONFIG',
          facts: { file, setting: 'webhook.auth.bearerTokenFile (env KR_WEBHOOK_BEARER_TOKEN_FILE)' },
          cause,
          fix: 'write the bearer token into that file',
        },
      );
    }
  });

  it('an unknown option: exit 2', async () => {
    const res = await run({}, [isolatedOperatorEntry(), 'run', '--no-such-option']);
    expect(res.exitCode).toBe(2);
    expect(res.stderr).toContain("Unknown option '--no-such-option'");
  });
});

describe('npm start with a configured cluster it cannot reach', () => {
  it('runs no sandbox: the same message and exit code as run, nothing left running', async () => {
    const closed = `https://127.0.0.1:${await freePort()}`;
    const file = kubeconfigFile('refused-npm-start', kubeconfigYaml(closed, adminToken));
    const res = await run({ KUBECONFIG: file }, ['--import', 'tsx', 'tools/sandbox/start.ts']);
    expectFailure(res, {
      exit: 5,
      code: 'KR_ERR_KUBE_UNAVAILABLE',
      facts: { kubeconfig: file, server: closed },
      cause: 'connection refused',
      fix: 'start the cluster',
    });
    expect(res.stdout).not.toContain('sandbox:');
  });
});
