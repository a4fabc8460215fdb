/**
 * `npm start` on a fresh machine: a clean copy of the checkout, HOME an empty folder and
 * KUBECONFIG empty, so there is no cluster to use. It must start the sandbox (the control plane
 * is cached: KR_CACHE_DIR points at the machine's cache, as the build would otherwise run for
 * minutes), print the three lines, and the printed curl must fire the tour's alert to a
 * Remediation that succeeds. Ctrl-C (SIGINT) then stops every process it started.
 *
 * Needs no e2e global cluster: it brings its own. The webhook and probe ports are chosen free,
 * through the operator's ordinary environment variables, so a second run on the machine or an
 * operator already on 9095 does not collide with this one.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { execa } from 'execa';
import { makeClients } from '../../../src/kube/client.js';
import { remediations } from '../../../src/kube/resources.js';
import { CACHE_DIR, freePort } from '../../../tools/cluster/cluster.js';
import { REPO_ROOT } from '../../../tools/cluster/crds.js';
import { cleanCopy } from '../../support/clean-copy.js';
import { waitFor } from '../../support/kube.js';
import { spawnLogged, type OperatorProcess } from '../../support/operator.js';
import { killMarked, leftRunning, newMarker, processesWithMarker } from '../../support/processes.js';

const copy = cleanCopy();
const home = mkdtempSync(join(tmpdir(), 'kr-empty-home-'));
const markers: Record<string, string>[] = [];
const servers: Server[] = [];

afterEach(async () => {
  for (const m of markers.splice(0)) killMarked(m);
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});
afterAll(() => {
  copy.remove();
  rmSync(home, { recursive: true, force: true });
});

/** A fresh machine's environment: no kubeconfig anywhere, nothing inherited from this run. */
async function freshMachineEnv(): Promise<{ env: Record<string, string>; marker: Record<string, string> }> {
  const marker = newMarker();
  markers.push(marker);
  return {
    marker,
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: home,
      KUBECONFIG: '',
      KR_CACHE_DIR: CACHE_DIR,
      KR_WEBHOOK_HOST: '127.0.0.1',
      KR_WEBHOOK_PORT: String(await freePort()),
      KR_PROBES_HOST: '127.0.0.1',
      KR_PROBES_PORT: String(await freePort()),
      ...marker,
    },
  };
}

function line(proc: OperatorProcess, re: RegExp): string {
  const found = proc.logs().find((l) => re.test(l));
  if (!found) throw new Error(`no line matches ${String(re)}`);
  return found;
}

async function refused(port: string): Promise<boolean> {
  try {
    await fetch(`http://127.0.0.1:${port}/`);
    return false;
  } catch {
    return true;
  }
}

describe('npm start on a machine without a cluster', () => {
  it('starts a sandbox, the printed curl remediates the tour, Ctrl-C stops everything it started', async () => {
    const { env, marker } = await freshMachineEnv();
    const proc = spawnLogged('bash', ['scripts/start.sh'], { env, cwd: copy.dir });
    // Build (tsc + esbuild) and sandbox both run here; on a loaded 2-core machine that takes minutes.
    await proc.waitForLog('  kubectl get rem -w', 420_000);
    const logs = proc.logs().join('\n');
    expect(logs).toContain('sandbox: no kubeconfig found');
    expect(logs).toContain('kube-remediator run never does');
    expect(logs).not.toMatch(/added \d+ packages/); // the linked node_modules was used as it is
    const kubeconfig = /^ {2}export KUBECONFIG=(\S+)$/.exec(line(proc, /^ {2}export KUBECONFIG=/))![1]!;
    const curl = line(proc, /^ {2}curl /).trim();
    expect(curl).toContain(`http://127.0.0.1:${env.KR_WEBHOOK_PORT}/api/v1/alerts`);
    expect(curl).toContain('--data @docs/tour/alert-firing.json');

    const running = processesWithMarker(marker).map((p) => p.comm);
    expect(running).toEqual(expect.arrayContaining(['etcd', 'kube-apiserver', 'node']));
    expect(running.some((c) => c.startsWith('kube-controller'))).toBe(true);

    const fired = await execa('bash', ['-c', curl], { cwd: copy.dir, reject: false });
    expect(fired.exitCode).toBe(0);
    expect(fired.stdout).toContain('"outcome":"created"');
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(kubeconfig);
    const rem = await waitFor(
      async () => {
        const list = await remediations(makeClients(kc)).list('fractal-lba');
        return list.items.find((r) => r.status?.phase === 'Succeeded');
      },
      { timeoutMs: 90_000, what: 'the tour Remediation to succeed' },
    );
    expect(rem.spec.runbookRef?.name).toBe('dedup-store-outage');

    proc.kill('SIGINT');
    expect(await proc.exited).toBe(0);
    expect(await leftRunning(marker)).toEqual([]);
    expect(proc.logs().join('\n')).toContain('sandbox: stopped (operator exit code 0)');
    expect(existsSync(kubeconfig)).toBe(false);
    expect(await refused(env.KR_WEBHOOK_PORT!)).toBe(true);
  }, 600_000);

  it('an operator that cannot start (its port taken) takes the sandbox down with it, and its exit code', async () => {
    const { env, marker } = await freshMachineEnv();
    const taken = createServer();
    servers.push(taken);
    await new Promise<void>((r) => taken.listen(Number(env.KR_WEBHOOK_PORT), '127.0.0.1', r));
    // The entry point itself, in the repository: the clean copy's build is the test above's.
    const proc = spawnLogged(process.execPath, ['--import', 'tsx', 'tools/sandbox/start.ts', '--no-tour'], {
      env,
      cwd: REPO_ROOT,
    });
    expect(await proc.exited).toBe(9);
    const logs = proc.logs().join('\n');
    expect(logs).toContain('KR_ERR_PORT_IN_USE: cannot listen on 127.0.0.1:');
    expect(logs).toContain('webhook.port (env KR_WEBHOOK_PORT, flag --webhook-port)');
    expect(logs).toContain('sandbox: stopped (operator exit code 9)');
    expect(await leftRunning(marker)).toEqual([]);
  }, 300_000);
});
