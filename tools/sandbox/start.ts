/**
 * `npm start`, once scripts/start.sh has installed and built: runs the operator with
 * --install-crds. With a cluster configured (--kubeconfig, $KUBECONFIG, ~/.kube/config, or in a
 * pod; the operator's own search, src/kube/kubeconfig.ts) it runs against that cluster. With
 * none, or with --sandbox, it starts a sandbox cluster of its own first (sandbox.ts), applies the
 * tour, prints what to type next, and on Ctrl-C stops everything it started, by pid.
 *
 * `kube-remediator run` itself never starts a cluster: a production process with a missing
 * kubeconfig must fail loudly, not run against something else. The sandbox is this dev entry
 * point's choice, and it says so.
 */
import { delimiter, dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { loadConfig } from '../../src/config/config.js';
import { exitCodeOf, failureText, UsageError } from '../../src/cli/exit-codes.js';
import { parseRunArgs, RUN_USAGE } from '../../src/cli/run.js';
import { locateKubeconfig } from '../../src/kube/kubeconfig.js';
import { ensureControlPlane, type BuildHandle } from '../cluster/build.js';
import { startOperatorChild, type OperatorChild, type Started } from './operator-child.js';
import { startSandbox, TOUR_DIR, waitRunbookReady, type Sandbox } from './sandbox.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const PROGRAM = 'npm start';

export const START_USAGE = `Usage: npm start [-- [--sandbox] [--no-tour] [run options]]

Installs the dependencies and builds if needed, then runs the operator (kube-remediator run
--install-crds) against the cluster of the current kubeconfig. With no kubeconfig (no
--kubeconfig, no $KUBECONFIG, no ~/.kube/config, not in a pod) it first starts a sandbox: the
project's own control plane (etcd, kube-apiserver, kube-controller-manager v1.20, built once per
machine) with a fake kubelet, the CRDs and the tour (docs/tour/), then prints the
export KUBECONFIG=... line, a curl that fires the tour's alert, and kubectl get rem -w.
Ctrl-C stops everything it started.

Options of npm start:
  --sandbox      start the sandbox even when a kubeconfig is configured
  --no-tour      do not apply the tour's workload and Runbook to the sandbox
  -h, --help     show this help

Environment: KR_CACHE_DIR (where the control plane is built and cached, default
~/.cache/kube-remediator). Every other option goes to kube-remediator run:

`;

const say = (line: string): void => void process.stdout.write(`sandbox: ${line}\n`);
const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

async function main(argv: string[]): Promise<number> {
  const { values, tokens } = parseArgs({
    args: argv,
    options: {
      sandbox: { type: 'boolean' },
      'no-tour': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: false,
    tokens: true,
  });
  if (values.help) {
    process.stdout.write(START_USAGE + RUN_USAGE);
    return 0;
  }
  const own = new Set(['sandbox', 'no-tour', 'help', 'h']);
  const runArgs = argv.filter(
    (_, i) => !tokens.some((t) => t.index === i && t.kind === 'option' && own.has(t.name)),
  );
  try {
    const args = parseRunArgs(runArgs);
    const config = loadConfig({ file: args.config, overrides: args.overrides });
    const where = locateKubeconfig(config.kubeconfig);
    if (values.sandbox && args.overrides.kubeconfig)
      throw new UsageError('--sandbox and --kubeconfig: choose one');
    if (where.kind !== 'none' && !values.sandbox)
      return await runOnCluster(runArgs, where.kind === 'files' ? where.files.join(delimiter) : 'in-cluster');
    if (values.sandbox) say('--sandbox: npm start runs the operator on a sandbox cluster of its own.');
    else {
      say(`no kubeconfig found; looked at: ${where.kind === 'none' ? where.looked.join(', ') : ''}.`);
      say(
        'npm start therefore runs the operator on a sandbox cluster of its own. kube-remediator run never does ' +
          '(without a kubeconfig it stops with exit code 4); set KUBECONFIG to use your cluster.',
      );
    }
    return await runSandbox(runArgs, { tour: values['no-tour'] !== true });
  } catch (err) {
    process.stderr.write(failureText(err, PROGRAM));
    return exitCodeOf(err);
  }
}

/** Resolves when SIGINT, SIGTERM or SIGHUP arrives; later signals are ignored (npm relays Ctrl-C a second time). */
function stopSignal(onFirst: () => void): Promise<'stop'> {
  return new Promise((resolve) => {
    let seen = false;
    const handler = (): void => {
      if (seen) return;
      seen = true;
      onFirst();
      resolve('stop');
    };
    for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, handler);
  });
}

async function runOnCluster(runArgs: string[], source: string): Promise<number> {
  process.stdout.write(
    `npm start: running the operator on the cluster of the kubeconfig (${source}); npm start -- --sandbox uses a sandbox cluster instead.\n`,
  );
  const op = startOperatorChild(ROOT, ['--install-crds', ...runArgs], process.env);
  await Promise.race([op.exited, stopSignal(() => undefined)]);
  return op.stop();
}

async function runSandbox(runArgs: string[], opts: { tour: boolean }): Promise<number> {
  const t0 = Date.now();
  let build: BuildHandle | undefined;
  let sandbox: Sandbox | undefined;
  let op: OperatorChild | undefined;
  let stopping = false;
  const stop = stopSignal(() => {
    stopping = true;
    say('stopping...');
    build?.stop();
  });
  try {
    build = ensureControlPlane(process.stdout, 'sandbox: ');
    build.done.catch(() => undefined);
    if ((await Promise.race([build.done, stop])) === 'stop') return 0;
    say('starting etcd, kube-apiserver and kube-controller-manager (v1.20) with a fake kubelet...');
    sandbox = await startSandbox(ROOT, opts);
    say(`control plane up at ${sandbox.cluster.server} (${seconds(Date.now() - t0)})`);
    if (sandbox.tour) say(`applied the tour (--no-tour skips it): ${sandbox.tour.applied.join(', ')}`);
    if (stopping) return 0;
    const tokenFile = process.env.KR_WEBHOOK_BEARER_TOKEN_FILE || sandbox.tokenFile;
    op = startOperatorChild(ROOT, ['--install-crds', ...runArgs], {
      ...process.env,
      KUBECONFIG: sandbox.kubeconfigPath,
      KR_WEBHOOK_BEARER_TOKEN_FILE: tokenFile,
      // The tour runs as the chart installs (ADR 23): its Runbook acts as the ServiceAccount
      // docs/tour/rbac.yaml grants; KR_IDENTITY_MODE=operator in the environment overrides it.
      KR_IDENTITY_MODE: process.env.KR_IDENTITY_MODE || 'serviceAccount',
    });
    const started = await Promise.race([op.started.catch(() => undefined), stop]);
    if (started === 'stop') return 0;
    if (!started) return await op.exited;
    const sb = sandbox;
    const rb = await waitRunbookReady(sb, () => stopping);
    if (stopping) return 0;
    if (sb.tour && !rb.ready)
      say(`the tour's Runbook is not Ready: ${rb.message ?? 'see kubectl describe rb'}`);
    printBanner(sb, started, tokenFile === sb.tokenFile ? sb.token : undefined, Date.now() - t0, tokenFile);
    const end = await Promise.race([op.exited, stop]);
    return end === 'stop' ? 0 : end;
  } finally {
    const code = await op?.stop();
    await sandbox?.stop();
    if (op || sandbox)
      say(`stopped${code !== undefined ? ` (operator exit code ${code})` : ''}; nothing left running.`);
  }
}

function printBanner(
  sb: Sandbox,
  started: Started,
  token: string | undefined,
  ms: number,
  tokenFile: string,
): void {
  const from = process.env.INIT_CWD ?? process.cwd();
  const alert = relative(from, join(ROOT, TOUR_DIR, 'alert-firing.json'));
  const bearer = token ?? `$(cat ${tokenFile})`;
  const lines = [
    '',
    `sandbox: ready in ${seconds(ms)}. In another terminal:`,
    '',
    `  export KUBECONFIG=${sb.kubeconfigPath}`,
  ];
  if (started.webhook)
    lines.push(
      `  curl -s -H "Authorization: Bearer ${bearer}" -H 'Content-Type: application/json' --data @${alert} ${started.webhook}`,
    );
  lines.push(`  kubectl get rem ${sb.tour ? '' : '-A '}-w`, '');
  if (sb.tour)
    lines.push(
      `sandbox: the curl fires the tour's alert (${sb.tour.runbook} answers it); ${alert.replace('firing', 'resolved')} resolves it.`,
    );
  lines.push('sandbox: Ctrl-C stops the operator, the fake kubelet and the control plane.', '');
  process.stdout.write(lines.join('\n'));
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(failureText(err, PROGRAM));
    process.exit(1);
  },
);
