/**
 * Builds the control plane once per machine (build-control-plane.sh) for the tools that start
 * one on demand (`npm start`'s sandbox, `npm run cluster`), with a progress line: the build is
 * long and quiet, and a newcomer must be able to tell it from a hang.
 */
import { spawn } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BIN_DIR, binariesPresent, CACHE_DIR } from './cluster.js';

export const BUILD_SCRIPT = join(dirname(fileURLToPath(import.meta.url)), 'build-control-plane.sh');
/** What the build took on a 2-core machine (docs/adr/0002). */
export const EXPECTED_BUILD = { minutes: 7, text: 'about 7 minutes on 2 cores' };

export interface BuildHandle {
  readonly done: Promise<void>;
  /** Stops the build (its process group: make and the Go compilers under it). */
  stop(): void;
}

function elapsed(ms: number): string {
  const s = Math.floor(ms / 1000);
  return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}

/** Resolves at once when the binaries are cached; otherwise builds them, reporting progress on `out`. */
export function ensureControlPlane(out: NodeJS.WriteStream = process.stderr, prefix = ''): BuildHandle {
  if (binariesPresent()) return { done: Promise.resolve(), stop: () => undefined };
  mkdirSync(CACHE_DIR, { recursive: true });
  const logFile = join(CACHE_DIR, 'build.log');
  out.write(
    `${prefix}building the Kubernetes control plane from Debian's sources, once per machine ` +
      `(${EXPECTED_BUILD.text}; cached in ${BIN_DIR}; log: ${logFile})\n`,
  );
  const log = createWriteStream(logFile);
  // A process group of its own, so stop() reaches make and the compilers it runs.
  const child = spawn('bash', [BUILD_SCRIPT], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  child.stdout.pipe(log);
  child.stderr.pipe(log);
  const started = Date.now();
  const progress = (): string =>
    `${prefix}building: ${elapsed(Date.now() - started)} of about ${EXPECTED_BUILD.minutes}m`;
  // On a terminal one line that updates in place; in a log, a line every 30 s.
  const tick = setInterval(
    () => (out.isTTY ? out.write(`\r${progress()}`) : out.write(`${progress()}\n`)),
    out.isTTY ? 1000 : 30_000,
  );
  const done = new Promise<void>((resolve, reject) => {
    child.on('exit', (code, signal) => {
      clearInterval(tick);
      if (out.isTTY) out.write('\n');
      log.end();
      if (code === 0) {
        out.write(`${prefix}control plane built in ${elapsed(Date.now() - started)}\n`);
        resolve();
        return;
      }
      const tail = readFileSync(logFile, 'utf8').trimEnd().split('\n').slice(-15).join('\n');
      reject(
        new Error(
          `control-plane build failed (${signal ?? `exit ${code}`}); last lines of ${logFile}:\n${tail}`,
        ),
      );
    });
  });
  return {
    done,
    stop: () => {
      try {
        if (child.pid && child.exitCode === null) process.kill(-child.pid, 'SIGTERM');
      } catch {
        /* gone */
      }
    },
  };
}
