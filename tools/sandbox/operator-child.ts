/**
 * The operator as a child of `npm start`: the same bundle, flags and `run` command as the image
 * and the chart, its log passed through line by line, its start noticed from its own log line
 * ("operator started", which carries the webhook and probe URLs as bound).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { OPERATOR_BUNDLE, OPERATOR_NODE_FLAGS } from '../../src/cli/node-flags.js';

export interface Started {
  webhook?: string;
  probes?: string;
}

export interface OperatorChild {
  readonly pid: number;
  /** Resolves with the exit code (128 + signal number when killed by a signal). */
  readonly exited: Promise<number>;
  /** Resolves when the operator logs that it started; rejects if it exits first. */
  readonly started: Promise<Started>;
  /** SIGTERM (graceful: step in flight finished, Lease released), SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<number>;
}

const SIGNAL_NUMBERS: Record<string, number> = { SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };

export function startOperatorChild(root: string, args: string[], env: NodeJS.ProcessEnv): OperatorChild {
  const child: ChildProcess = spawn(
    process.execPath,
    [...OPERATOR_NODE_FLAGS, join(root, OPERATOR_BUNDLE), 'run', ...args],
    // Its own process group: a terminal's Ctrl-C reaches only npm start, which stops it first.
    { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true },
  );
  const exited = new Promise<number>((resolve) =>
    child.on('exit', (code, signal) => resolve(code ?? 128 + (SIGNAL_NUMBERS[signal ?? ''] ?? 0))),
  );
  let onStarted: (s: Started) => void = () => undefined;
  const started = new Promise<Started>((resolve, reject) => {
    onStarted = resolve;
    void exited.then((code) => reject(new Error(`the operator exited with code ${code} before it started`)));
  });
  // Handled by whoever awaits it; without this an early exit would be an unhandled rejection.
  started.catch(() => undefined);
  createInterface({ input: child.stdout! }).on('line', (line) => {
    process.stdout.write(`${line}\n`);
    const entry = parseLogLine(line);
    if (entry?.message === 'operator started')
      onStarted({
        ...(typeof entry.webhook === 'string' ? { webhook: entry.webhook } : {}),
        ...(typeof entry.probes === 'string' ? { probes: entry.probes } : {}),
      });
  });
  createInterface({ input: child.stderr! }).on('line', (line) => process.stderr.write(`${line}\n`));

  return {
    pid: child.pid!,
    exited,
    started,
    async stop(graceMs = 20_000) {
      if (child.exitCode !== null || child.signalCode !== null) return exited;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

function parseLogLine(line: string): Record<string, unknown> | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    return JSON.parse(line) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}
