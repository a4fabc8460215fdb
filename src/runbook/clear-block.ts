/**
 * The `kube-remediator.io/clear-block` annotation of a Runbook: how a person clears loop
 * protection. Entries are `target[@RFC3339]`, comma-separated; `*` is every target. The Runbook
 * controller stamps each entry with the time it first saw it, which turns "clear this" into a
 * point in time: failures that finished before it no longer count, later ones do.
 */

export interface ClearEntry {
  target: string;
  at?: Date;
}

/** Parses `kube-remediator.io/clear-block`: `target[@RFC3339]` entries, comma-separated; `*` is every target. */
export function parseClearBlock(value: string | undefined): ClearEntry[] {
  if (!value) return [];
  const out: ClearEntry[] = [];
  for (const raw of value.split(',')) {
    const entry = raw.trim();
    if (!entry) continue;
    const at = entry.lastIndexOf('@');
    if (at > 0) {
      const t = Date.parse(entry.slice(at + 1));
      out.push(
        Number.isNaN(t) ? { target: entry.slice(0, at) } : { target: entry.slice(0, at), at: new Date(t) },
      );
    } else out.push({ target: entry });
  }
  return out;
}

/**
 * Formats entries back into the annotation value. Stamps keep their milliseconds (whole seconds
 * are written without): a failure's `completedAt` has them, and a stamp truncated to the second
 * would count a failure that finished just before it, in the same second, as after it.
 */
export function formatClearBlock(entries: readonly ClearEntry[]): string {
  return entries
    .map((e) => (e.at ? `${e.target}@${e.at.toISOString().replace(/\.000Z$/, 'Z')}` : e.target))
    .join(',');
}

/** The annotation with every unstamped entry stamped `@now`; undefined when nothing to stamp. */
export function stampClearBlock(value: string | undefined, now: Date): string | undefined {
  const entries = parseClearBlock(value);
  if (!entries.some((e) => !e.at)) return undefined;
  return formatClearBlock(entries.map((e) => (e.at ? e : { ...e, at: now })));
}
