/** `kube-remediator run`: loads the configuration and runs the operator until SIGTERM/SIGINT. */
import { parseArgs } from 'node:util';
import { loadConfig, RUN_FLAGS } from '../config/config.js';
import { exitCodesText } from './exit-codes.js';
import { createLogger } from '../observability/logger.js';
import { startOperator } from '../operator.js';

export const RUN_USAGE = `Usage: kube-remediator run [options]

Runs the operator: the Remediation and Runbook controllers, the Alertmanager webhook and the
/healthz, /readyz and /metrics endpoints. Every option can also be set in a YAML file
(--config) or by environment variable (kube-remediator config --help lists them).

Options:
  --config <file>             YAML configuration file (env KR_CONFIG)
  --kubeconfig <file>         kubeconfig (default $KUBECONFIG, ~/.kube/config, in-cluster)
  --cluster-name <name>       name of this cluster on audit rows (default: the kubeconfig context)
  --namespace <ns>            watch only this namespace (default all)
  --probes-port <port>        port of /healthz, /readyz, /metrics (default 8080)
  --webhook-port <port>       port of the Alertmanager webhook (default 9095)
  --store <kind>              memory | redis | postgres (default memory)
  --redis-url <url>           Redis URL for --store redis
  --audit-postgres-url <url>  PostgreSQL URL of the audit log (default: audit off)
  --no-leader-election        act without a Lease (a single replica only)
  --install-crds              create or update the CRDs at start (for development)
  --log-level <level>         error | warn | info | debug (default info)
  -h, --help                  show this help

It never starts a cluster: with no kubeconfig it stops with exit code 4 and says where it
looked. (\`npm start\` in the repository starts a sandbox cluster when there is none.)

Exit codes:
${exitCodesText()}
`;

export interface RunArgs {
  help: boolean;
  installCrds: boolean;
  config?: string;
  /** Config paths set by flags, e.g. `{'webhook.port': '9095'}`. */
  overrides: Record<string, unknown>;
}

/** Parses `run`'s flags (also used by `npm start`, which must see them as `run` does). */
export function parseRunArgs(argv: string[]): RunArgs {
  const valued = Object.fromEntries(
    Object.keys(RUN_FLAGS).map((f) => [f.slice(2), { type: 'string' as const }]),
  );
  const { values } = parseArgs({
    args: argv,
    options: {
      ...valued,
      config: { type: 'string' },
      'no-leader-election': { type: 'boolean' },
      'install-crds': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  const overrides: Record<string, unknown> = {};
  for (const [flag, path] of Object.entries(RUN_FLAGS)) {
    const v = (values as Record<string, string | boolean | undefined>)[flag.slice(2)];
    if (v !== undefined) overrides[path] = v;
  }
  if (values['no-leader-election']) overrides['leaderElection.enabled'] = false;
  return {
    help: values.help === true,
    installCrds: values['install-crds'] === true,
    ...(typeof values.config === 'string' ? { config: values.config } : {}),
    overrides,
  };
}

export async function runCommand(argv: string[]): Promise<number> {
  const args = parseRunArgs(argv);
  if (args.help) {
    process.stdout.write(RUN_USAGE);
    return 0;
  }
  const config = loadConfig({ file: args.config, overrides: args.overrides });
  const log = createLogger(config.logLevel);
  const operator = await startOperator(config, { log, installCrds: args.installCrds });
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) {
      log.warn('second signal, exiting now', { signal });
      process.exit(1);
    }
    stopping = true;
    log.info('shutting down', { signal });
    void operator.stop().then(
      () => undefined,
      (err: unknown) => {
        log.error('shutdown failed', { error: String(err) });
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  // Lost leadership (or any self-stop): exit even if a stuck pass keeps the event loop busy,
  // so a replaced leader cannot act any longer.
  process.exit(await operator.done);
}
