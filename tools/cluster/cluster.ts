/**
 * A real Kubernetes control plane for tests: etcd + kube-apiserver + kube-controller-manager
 * (v1.20, built from Debian's sources by build-control-plane.sh), on free loopback ports, in a
 * folder of its own, so several clusters can run side by side. Every process is stopped by its
 * own pid, also when the test run fails or is interrupted.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export const CACHE_DIR = process.env.KR_CACHE_DIR ?? join(homedir(), '.cache', 'kube-remediator');
export const BIN_DIR = join(CACHE_DIR, 'bin');
const ETCD = process.env.KR_ETCD_BIN ?? '/usr/bin/etcd';

export interface TestCluster {
  /** Folder holding data, certificates, logs and the kubeconfig. */
  readonly dir: string;
  readonly kubeconfigPath: string;
  readonly server: string;
  readonly token: string;
  /** Pids of etcd, kube-apiserver and (if started) kube-controller-manager. */
  readonly pids: number[];
  stop(): Promise<void>;
}

export interface ClusterOptions {
  /** Start kube-controller-manager (Deployments → ReplicaSets → Pods). Default true. */
  controllerManager?: boolean;
  /** Extra kube-apiserver flags. */
  apiserverArgs?: string[];
  /**
   * Each process in a process group of its own, so a terminal's Ctrl-C reaches only the owner,
   * which then stops them in order (the operator before the API server it releases its Lease on).
   */
  detached?: boolean;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

/** Last resort: whatever happens to the test process, no control-plane process outlives it. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const p of live) {
      try {
        if (p.pid) process.kill(p.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
  });
}

function startProcess(
  dir: string,
  name: string,
  bin: string,
  args: string[],
  detached = false,
): ChildProcess {
  const log = createWriteStream(join(dir, `${name}.log`));
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'], detached });
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  live.add(child);
  child.on('exit', () => live.delete(child));
  return child;
}

async function stopProcess(child: ChildProcess, graceMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || !child.pid) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    process.kill(child.pid, 'SIGTERM');
  } catch {
    return;
  }
  const timeout = sleep(graceMs).then(() => 'timeout' as const);
  if ((await Promise.race([exited, timeout])) === 'timeout') {
    try {
      process.kill(child.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
    await exited;
  }
}

async function waitReady(
  url: string,
  token: string,
  what: string,
  child: ChildProcess,
  dir: string,
): Promise<void> {
  const deadline = Date.now() + 90_000;
  // The server's certificate is self-signed: skip verification for this loopback probe only.
  const { Agent, request } = await import('node:https');
  const agent = new Agent({ rejectUnauthorized: false });
  while (Date.now() < deadline) {
    if (child.exitCode !== null)
      throw new Error(`${what} exited with ${child.exitCode}; see ${dir}/${what}.log`);
    const ok = await new Promise<boolean>((resolve) => {
      const req = request(
        url,
        { agent, headers: { Authorization: `Bearer ${token}` }, timeout: 2000 },
        (res) => {
          res.resume();
          resolve(res.statusCode === 200);
        },
      );
      req.on('error', () => resolve(false));
      req.on('timeout', () => {
        req.destroy();
        resolve(false);
      });
      req.end();
    });
    if (ok) return;
    await sleep(250);
  }
  throw new Error(`${what} not ready after 90s; see ${dir}/${what}.log`);
}

async function waitEtcd(port: number, child: ChildProcess, dir: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`etcd exited with ${child.exitCode}; see ${dir}/etcd.log`);
    try {
      const res = await fetch(`http://127.0.0.1:${port}/health`);
      if (res.ok) return;
    } catch {
      /* not yet */
    }
    await sleep(100);
  }
  throw new Error(`etcd not ready after 30s; see ${dir}/etcd.log`);
}

export function kubeconfigYaml(server: string, token: string, namespace = 'default'): string {
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: kr-test',
    '  cluster:',
    `    server: ${server}`,
    '    insecure-skip-tls-verify: true',
    'users:',
    '- name: kr-admin',
    '  user:',
    `    token: ${token}`,
    'contexts:',
    '- name: kr-test',
    '  context:',
    '    cluster: kr-test',
    '    user: kr-admin',
    `    namespace: ${namespace}`,
    'current-context: kr-test',
    '',
  ].join('\n');
}

export function binariesPresent(): boolean {
  return (
    existsSync(ETCD) &&
    existsSync(join(BIN_DIR, 'kube-apiserver')) &&
    existsSync(join(BIN_DIR, 'kube-controller-manager'))
  );
}

export async function startCluster(opts: ClusterOptions = {}): Promise<TestCluster> {
  if (!binariesPresent()) {
    throw new Error(
      `control-plane binaries missing in ${BIN_DIR} (or ${ETCD}): run tools/cluster/build-control-plane.sh (npm test does this)`,
    );
  }
  installExitHook();
  // tmpfs when there is one: etcd fsyncs on every write and a disk makes the suite slow.
  const base = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
  const dir = mkdtempSync(join(base, 'kr-cluster-'));
  const certDir = join(dir, 'certs');
  mkdirSync(certDir);
  const [etcdPort, peerPort, apiPort] = [await freePort(), await freePort(), await freePort()];
  const token = randomBytes(24).toString('hex');

  const { privateKey, publicKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  const saKey = join(dir, 'sa.key');
  const saPub = join(dir, 'sa.pub');
  writeFileSync(saKey, privateKey, { mode: 0o600 });
  writeFileSync(saPub, publicKey);
  writeFileSync(join(dir, 'tokens.csv'), `${token},admin,admin,system:masters\n`);

  const procs: ChildProcess[] = [];
  const stop = async (): Promise<void> => {
    for (const p of [...procs].reverse()) await stopProcess(p);
    if (!process.env.KR_KEEP_CLUSTER_DIR) rmSync(dir, { recursive: true, force: true });
  };

  try {
    const etcd = startProcess(
      dir,
      'etcd',
      ETCD,
      [
        '--name=default',
        `--data-dir=${join(dir, 'etcd')}`,
        `--listen-client-urls=http://127.0.0.1:${etcdPort}`,
        `--advertise-client-urls=http://127.0.0.1:${etcdPort}`,
        `--listen-peer-urls=http://127.0.0.1:${peerPort}`,
        `--initial-advertise-peer-urls=http://127.0.0.1:${peerPort}`,
        `--initial-cluster=default=http://127.0.0.1:${peerPort}`,
        '--log-level=warn',
      ],
      opts.detached,
    );
    procs.push(etcd);
    await waitEtcd(etcdPort, etcd, dir);

    const apiserver = startProcess(
      dir,
      'kube-apiserver',
      join(BIN_DIR, 'kube-apiserver'),
      [
        `--etcd-servers=http://127.0.0.1:${etcdPort}`,
        `--secure-port=${apiPort}`,
        '--bind-address=127.0.0.1',
        '--advertise-address=127.0.0.1',
        `--cert-dir=${certDir}`,
        `--token-auth-file=${join(dir, 'tokens.csv')}`,
        `--service-account-key-file=${saPub}`,
        `--service-account-signing-key-file=${saKey}`,
        '--service-account-issuer=https://kubernetes.default.svc',
        '--authorization-mode=RBAC',
        '--service-cluster-ip-range=10.0.0.0/24',
        '--insecure-port=0',
        '--profiling=false',
        '--v=0',
        ...(opts.apiserverArgs ?? []),
      ],
      opts.detached,
    );
    procs.push(apiserver);
    const server = `https://127.0.0.1:${apiPort}`;
    await waitReady(`${server}/readyz`, token, 'kube-apiserver', apiserver, dir);

    const kubeconfigPath = join(dir, 'kubeconfig');
    writeFileSync(kubeconfigPath, kubeconfigYaml(server, token), { mode: 0o600 });

    if (opts.controllerManager ?? true) {
      const kcm = startProcess(
        dir,
        'kube-controller-manager',
        join(BIN_DIR, 'kube-controller-manager'),
        [
          `--kubeconfig=${kubeconfigPath}`,
          `--service-account-private-key-file=${saKey}`,
          `--root-ca-file=${join(certDir, 'apiserver.crt')}`,
          '--use-service-account-credentials=false',
          '--leader-elect=false',
          '--port=0',
          '--secure-port=0',
          // Only what Deployments, StatefulSets, DaemonSets and Pods need; fewer loops, less CPU.
          '--controllers=deployment,replicaset,statefulset,daemonset,serviceaccount,serviceaccount-token,namespace,garbagecollector',
          '--concurrent-deployment-syncs=5',
          '--concurrent-replicaset-syncs=5',
          '--v=0',
        ],
        opts.detached,
      );
      procs.push(kcm);
      await waitServiceAccount(kubeconfigPath, kcm, dir);
    }

    return {
      dir,
      kubeconfigPath,
      server,
      token,
      pids: procs.map((p) => p.pid!).filter(Boolean),
      stop,
    };
  } catch (err) {
    await stop().catch(() => undefined);
    throw err;
  }
}

/** Pods are refused until the token controller has made the default service account's token. */
async function waitServiceAccount(kubeconfigPath: string, kcm: ChildProcess, dir: string): Promise<void> {
  const k8s = await import('@kubernetes/client-node');
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(kubeconfigPath);
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (kcm.exitCode !== null)
      throw new Error(`kube-controller-manager exited; see ${dir}/kube-controller-manager.log`);
    try {
      const sa = await core.readNamespacedServiceAccount({ name: 'default', namespace: 'default' });
      if ((sa.secrets ?? []).length > 0) return;
    } catch {
      /* not yet */
    }
    await sleep(200);
  }
  throw new Error(`default service account has no token after 60s; see ${dir}/kube-controller-manager.log`);
}
