/**
 * "Nothing is left running", checked from the outside: every process a command started carries
 * a marker in its environment (children inherit it, whatever process group or parent they end
 * up with), so a scan of /proc finds each one, and the test can stop a leftover by its pid.
 */
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

export const MARKER_VAR = 'KR_TEST_PROCESS_MARKER';

export function newMarker(): Record<string, string> {
  return { [MARKER_VAR]: randomBytes(8).toString('hex') };
}

export interface ProcessInfo {
  pid: number;
  /** The command name (/proc/PID/comm), e.g. `etcd`, `kube-apiserver`, `node`. */
  comm: string;
}

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined; // gone meanwhile, or not ours to read
  }
}

/** Live processes (not zombies) whose environment carries the marker. */
export function processesWithMarker(marker: Record<string, string>): ProcessInfo[] {
  const needle = `${MARKER_VAR}=${marker[MARKER_VAR]}\0`;
  const found: ProcessInfo[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const environ = read(`/proc/${entry}/environ`);
    if (!environ || !`${environ}\0`.includes(needle)) continue;
    const stat = read(`/proc/${entry}/stat`) ?? '';
    // The state follows the command name's closing parenthesis: Z is a zombie, already dead.
    if (/\) Z /.test(stat)) continue;
    found.push({ pid: Number(entry), comm: (read(`/proc/${entry}/comm`) ?? '').trim() });
  }
  return found;
}

/** Waits until no marked process is left (exits take a moment); returns the ones that stay. */
export async function leftRunning(
  marker: Record<string, string>,
  timeoutMs = 15_000,
): Promise<ProcessInfo[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const left = processesWithMarker(marker);
    if (left.length === 0 || Date.now() > deadline) return left;
    await sleep(100);
  }
}

/** Last resort after a failed test: SIGKILL every marked process, each by its pid. */
export function killMarked(marker: Record<string, string>): void {
  for (const p of processesWithMarker(marker))
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
}
