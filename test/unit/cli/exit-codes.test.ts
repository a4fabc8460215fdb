/** The exit codes of a failed start: one per kind, listed in `run --help`, printed with the fix. */
import { describe, expect, it } from '@jest/globals';
import { EXIT_CODES, exitCodeOf, failureText, UsageError } from '../../../src/cli/exit-codes.js';
import { RUN_USAGE } from '../../../src/cli/run.js';
import { ERROR_CODES, RemediatorError, StartupError } from '../../../src/util/errors.js';

describe('exit codes', () => {
  it('one code per kind of failure, each listed in the help of run', () => {
    const exits = EXIT_CODES.map((c) => c.exit);
    expect(new Set(exits).size).toBe(exits.length);
    const errors = EXIT_CODES.flatMap((c) => (c.error ? [c.error] : []));
    expect(new Set(errors).size).toBe(errors.length);
    for (const c of EXIT_CODES)
      expect(RUN_USAGE).toContain(`${String(c.exit).padEnd(3)} ${c.error ? `${c.error}: ` : ''}${c.when}`);
  });

  it('maps each error to its code; anything else is 1, a bad command line 2', () => {
    const fix = { fix: 'do something' };
    expect(exitCodeOf(new RemediatorError(ERROR_CODES.config, 'bad'))).toBe(3);
    expect(exitCodeOf(new StartupError(ERROR_CODES.kubeconfig, 'none', fix))).toBe(4);
    expect(exitCodeOf(new StartupError(ERROR_CODES.kubeUnavailable, 'down', fix))).toBe(5);
    expect(exitCodeOf(new StartupError(ERROR_CODES.kubeUnauthorized, '401', fix))).toBe(6);
    expect(exitCodeOf(new StartupError(ERROR_CODES.kubeForbidden, '403', fix))).toBe(7);
    expect(exitCodeOf(new StartupError(ERROR_CODES.crdMissing, 'crd', fix))).toBe(8);
    expect(exitCodeOf(new StartupError(ERROR_CODES.portInUse, 'port', fix))).toBe(9);
    expect(exitCodeOf(new UsageError('choose one'))).toBe(2);
    expect(exitCodeOf(Object.assign(new TypeError('x'), { code: 'ERR_PARSE_ARGS_UNKNOWN_OPTION' }))).toBe(2);
    expect(exitCodeOf(new Error('boom'))).toBe(1);
    expect(exitCodeOf(new RemediatorError(ERROR_CODES.timeout, 'slow'))).toBe(1);
  });

  it('prints a usage error without an error code: it is a typo, not a failure to alert on', () => {
    expect(failureText(new UsageError('--sandbox and --kubeconfig: choose one'), 'npm start')).toBe(
      'npm start: --sandbox and --kubeconfig: choose one\n  (exit code 2; `kube-remediator run --help` lists the exit codes)\n',
    );
    expect(failureText(new Error('boom'))).toMatch(/^kube-remediator: KR_ERR: boom\n/);
  });

  it('prints the facts, the cause and the fix, aligned, then the exit code', () => {
    const err = new StartupError(ERROR_CODES.portInUse, 'cannot listen on 0.0.0.0:9095 for the webhook', {
      facts: [
        ['address', '0.0.0.0:9095'],
        ['setting', 'webhook.port (env KR_WEBHOOK_PORT, flag --webhook-port)'],
      ],
      cause: 'the address is already in use',
      fix: 'stop the other process',
    });
    expect(failureText(err)).toBe(
      [
        'kube-remediator: KR_ERR_PORT_IN_USE: cannot listen on 0.0.0.0:9095 for the webhook',
        '  address  0.0.0.0:9095',
        '  setting  webhook.port (env KR_WEBHOOK_PORT, flag --webhook-port)',
        '  cause    the address is already in use',
        '  fix      stop the other process',
        '  (exit code 9; `kube-remediator run --help` lists the exit codes)',
        '',
      ].join('\n'),
    );
  });
});
