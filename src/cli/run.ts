/** `kube-remediator run`: loads the configuration and runs the operator until SIGTERM/SIGINT. */
import { parseArgs } from 'node:util';
import { loadConfig } from '../config/config.js';
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
`;

export async function runCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      config: { type: 'string' },
      kubeconfig: { type: 'string' },
      'cluster-name': { type: 'string' },
      namespace: { type: 'string' },
      'probes-port': { type: 'string' },
      'webhook-port': { type: 'string' },
      store: { type: 'string' },
      'redis-url': { type: 'string' },
      'audit-postgres-url': { type: 'string' },
      'no-leader-election': { type: 'boolean' },
      'install-crds': { type: 'boolean' },
      'log-level': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(RUN_USAGE);
    return 0;
  }
  const overrides: Record<string, unknown> = {};
  const map: [string | boolean | undefined, string][] = [
    [values.kubeconfig, 'kubeconfig'],
    [values['cluster-name'], 'clusterName'],
    [values.namespace, 'watchNamespace'],
    [values['probes-port'], 'probes.port'],
    [values['webhook-port'], 'webhook.port'],
    [values.store, 'store.kind'],
    [values['redis-url'], 'store.redisUrl'],
    [values['audit-postgres-url'], 'audit.postgresUrl'],
    [values['log-level'], 'logLevel'],
  ];
  for (const [v, path] of map) if (v !== undefined) overrides[path] = v;
  if (values['no-leader-election']) overrides['leaderElection.enabled'] = false;

  const config = loadConfig({ file: values.config, overrides });
  const log = createLogger(config.logLevel);
  const operator = await startOperator(config, { log, installCrds: values['install-crds'] ?? false });
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
