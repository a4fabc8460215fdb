/**
 * Runs the operator as a real, separate process (`node dist/bin/kube-remediator.js run`), so tests
 * can SIGKILL it at any instant. The suite builds dist/ before the e2e project starts.
 *
 * The process runs a copy of dist/bin in a directory of its own, outside the repository, as the
 * image runs it: with no node_modules to fall back on, a dependency that the bundle failed to
 * take in fails these tests instead of the image.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { REPO_ROOT } from '../../tools/cluster/crds.js';
import { OPERATOR_BUNDLE, OPERATOR_NODE_FLAGS } from '../../src/cli/node-flags.js';

export const OPERATOR_ENTRY = join(REPO_ROOT, OPERATOR_BUNDLE);

let isolated: string | undefined;
/** OPERATOR_ENTRY's directory, copied once per process to a directory outside the repository. */
export function isolatedOperatorEntry(): string {
  if (isolated && existsSync(isolated)) return isolated;
  if (!existsSync(OPERATOR_ENTRY)) throw new Error(`${OPERATOR_ENTRY} missing: run npm run build first`);
  // Inside the test cluster's directory when there is one: the cluster's teardown removes it,
  // whatever becomes of this worker. Elsewhere (the benchmark), the exit handler does.
  const dir = mkdtempSync(join(process.env.KR_TEST_CLUSTER_DIR ?? tmpdir(), 'kr-bundle-'));
  // The image's layout: package.json (for "type": "module") and dist/bin, nothing else.
  cpSync(join(REPO_ROOT, 'package.json'), join(dir, 'package.json'));
  cpSync(dirname(OPERATOR_ENTRY), join(dir, dirname(OPERATOR_BUNDLE)), { recursive: true });
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  isolated = join(dir, OPERATOR_BUNDLE);
  return isolated;
}

export interface OperatorProcess {
  readonly pid: number;
  readonly exited: Promise<number | null>;
  kill(signal?: NodeJS.Signals): void;
  /** Everything it wrote so far, stdout and stderr, as lines. */
  logs(): string[];
  /** Resolves with the first log line that contains `text`. */
  waitForLog(text: string, timeoutMs?: number): Promise<string>;
}

const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const p of running)
    if (p.pid)
      try {
        process.kill(p.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
});

export function startOperator(
  opts: { env?: Record<string, string>; args?: string[]; nodeArgs?: string[] } = {},
): OperatorProcess {
  return spawnLogged(
    process.execPath,
    [...OPERATOR_NODE_FLAGS, ...(opts.nodeArgs ?? []), isolatedOperatorEntry(), 'run', ...(opts.args ?? [])],
    {
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        KUBECONFIG: process.env.KUBECONFIG,
        ...opts.env,
      },
    },
  );
}

/**
 * Any command whose output a test waits on line by line (the operator, `npm start`). Stopped by
 * its pid when the test process exits, whatever happened to the test.
 */
export function spawnLogged(
  command: string,
  args: string[],
  opts: { env: Record<string, string | undefined>; cwd?: string },
): OperatorProcess {
  const child = spawn(command, args, {
    env: opts.env,
    ...(opts.cwd ? { cwd: opts.cwd } : {}),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  const lines: string[] = [];
  const waiters: { text: string; resolve: (l: string) => void }[] = [];
  const onData = (buf: Buffer): void => {
    for (const line of buf.toString().split('\n')) {
      if (!line) continue;
      lines.push(line);
      for (const w of [...waiters]) {
        if (line.includes(w.text)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(line);
        }
      }
    }
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const exited = new Promise<number | null>((resolve) =>
    child.on('exit', (code) => {
      running.delete(child);
      resolve(code);
    }),
  );
  return {
    pid: child.pid!,
    exited,
    kill: (signal = 'SIGTERM') => {
      try {
        process.kill(child.pid!, signal);
      } catch {
        /* gone */
      }
    },
    logs: () => [...lines],
    waitForLog: (text, timeoutMs = 30_000) => {
      const found = lines.find((l) => l.includes(text));
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const w = { text, resolve };
        waiters.push(w);
        setTimeout(() => {
          const i = waiters.indexOf(w);
          if (i >= 0) {
            waiters.splice(i, 1);
            reject(
              new Error(
                `${command} did not log "${text}" within ${timeoutMs} ms; last lines:\n${lines.slice(-20).join('\n')}`,
              ),
            );
          }
        }, timeoutMs).unref();
      });
    },
  };
}
