/** Redis for redisCheck and redisCommand: one command on a fresh connection, and URL checks. */
/**
 * Runs one command on a fresh connection and closes it (redis-client.ts). The
 * driver is loaded on first use: it costs memory in every operator that never runs a check.
 * The module with the static `import { Redis } from 'ioredis'` is what is imported lazily: a
 * dynamic `import('ioredis')` of the CommonJS package has no named `Redis` export once bundled.
 */
export async function runRedis(
  url: string,
  command: readonly string[],
  timeoutMs?: number,
): Promise<unknown> {
  return (await import('./redis-client.js')).runRedis(url, command, timeoutMs);
}

export function validateRedisUrl(
  p: { url?: string; urlFrom?: unknown } | undefined,
  field: string,
): string[] {
  if (!p?.url && !p?.urlFrom) return [`${field}: give url or urlFrom.secretKeyRef`];
  if (p.url && !/^rediss?:\/\//.test(p.url)) return [`${field}.url: must start with redis:// or rediss://`];
  return [];
}
