#!/usr/bin/env node
/**
 * The kube-remediator command line. `run` starts the operator; `audit` prints the audit log;
 * `crds` prints the CustomResourceDefinitions; `config` prints the effective configuration.
 */
import yaml from 'js-yaml';
import { allCrds } from '../api/v1alpha1/crd.js';
import { ENV_VARS, loadConfig } from '../config/config.js';
import { exitCodeOf, failureText } from './exit-codes.js';
import { RUN_USAGE, runCommand } from './run.js';

export const VERSION = '0.1.0';

const USAGE = `kube-remediator ${VERSION}: turns incident runbooks into safe, automatic remediation.

Usage: kube-remediator <command> [options]

Commands:
  run       run the operator against the current kubeconfig (or in-cluster)
  audit     print the audit log from PostgreSQL (kube-remediator audit --help)
  approve   approve a Remediation as you, verified by the operator (kube-remediator approve --help)
  reject    reject a Remediation as you, verified by the operator
  test      run Runbook test files without a cluster (kube-remediator test --help)
  plan      print what a Runbook would do with an alert (kube-remediator plan --help)
  crds      print the CustomResourceDefinitions as YAML (pipe to kubectl apply -f -)
  config    print the effective configuration (defaults + file + environment)
  version   print the version

Run 'kube-remediator <command> --help' for the options of a command.
`;

/**
 * `kube-remediator crds | head`: a reader that stops early is not an error for a command that
 * prints. Not for `run`, whose stdout is its log: there a closed stdout stays an error.
 */
function quietOnClosedPipe(): void {
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
}

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd !== 'run') quietOnClosedPipe();
  switch (cmd) {
    case 'run':
      return runCommand(rest);
    case 'audit': {
      // Loaded only for this command: it brings the PostgreSQL driver, which `run` may not need.
      const { runAuditCommand } = await import('./audit.js');
      return runAuditCommand(rest, { stdout: process.stdout, stderr: process.stderr });
    }
    case 'approve':
    case 'reject': {
      const { runApproveCommand } = await import('./approve.js');
      return runApproveCommand(cmd, rest, { stdout: process.stdout, stderr: process.stderr });
    }
    case 'test': {
      const { runTestCommand } = await import('./test.js');
      return runTestCommand(rest, { stdout: process.stdout, stderr: process.stderr });
    }
    case 'plan': {
      const { runPlanCommand } = await import('./plan.js');
      return runPlanCommand(rest, { stdout: process.stdout, stderr: process.stderr });
    }
    case 'crds':
      process.stdout.write(
        allCrds()
          .map((c) => yaml.dump(c, { lineWidth: 120, noRefs: true }))
          .join('---\n'),
      );
      return 0;
    case 'config': {
      if (rest.includes('--help') || rest.includes('-h')) {
        process.stdout.write(
          `Usage: kube-remediator config [--config FILE]\n\nEnvironment variables:\n${Object.entries(ENV_VARS)
            .map(([k, v]) => `  ${k.padEnd(32)} ${v}`)
            .join('\n')}\n`,
        );
        return 0;
      }
      const file = rest[rest.indexOf('--config') + 1];
      const cfg = loadConfig({ file: rest.includes('--config') ? file : undefined });
      const redacted = JSON.parse(JSON.stringify(cfg)) as { webhook: { auth: Record<string, unknown> } };
      for (const k of ['bearerToken', 'basicPassword'])
        if (redacted.webhook.auth[k]) redacted.webhook.auth[k] = '<redacted>';
      process.stdout.write(yaml.dump(redacted));
      return 0;
    }
    case 'version':
    case '--version':
      process.stdout.write(`${VERSION}\n`);
      return 0;
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE);
      return 0;
    default:
      process.stderr.write(`kube-remediator: unknown command "${cmd}"\n\n${USAGE}`);
      return 2;
  }
}

void main(process.argv.slice(2)).then(
  (code) => {
    if (code !== 0 || process.argv[2] !== 'run') process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(failureText(err));
    // Exit now: a half-started operator may hold sockets that would keep the process alive.
    process.exit(exitCodeOf(err));
  },
);
export { RUN_USAGE };
