/**
 * Failpoints for crash tests: `KR_FAILPOINTS=after-checkpoint` makes the process SIGKILL itself
 * at that instant (the same as `kill -9`), so tests can prove that a crash between checkpoint
 * and side effect, or between side effect and record, neither repeats nor skips a step.
 * Unset in production: each check is one lookup in a frozen set.
 */
export const FAILPOINTS = {
  /** The step's checkpoint (Running, attempt, before) is written; the side effect is not done. */
  afterCheckpoint: 'after-checkpoint',
  /** The side effect is done; its outcome is not recorded. */
  afterApply: 'after-apply',
} as const;

const armed: ReadonlySet<string> = new Set(
  (process.env.KR_FAILPOINTS ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean),
);

export function failpoint(name: (typeof FAILPOINTS)[keyof typeof FAILPOINTS]): void {
  if (armed.size > 0 && armed.has(name)) process.kill(process.pid, 'SIGKILL');
}
