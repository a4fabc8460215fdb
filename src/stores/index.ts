/** Picks the LimitStore the configuration asks for; shared stores come wrapped in FallbackStore. */
import type { Config } from '../config/config.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { Clock } from '../util/clock.js';
import { parseDuration } from '../util/duration.js';
import { FallbackStore } from './fallback.js';
import { MemoryLimitStore } from './memory.js';
import type { LimitStore } from './types.js';

// RedisLimitStore and PostgresLimitStore are imported from './redis.js' and './postgres.js'
// directly: re-exported here they would load both drivers into every operator, which with the
// default memory store uses neither.
export type { LimitStore } from './types.js';
export { FallbackStore } from './fallback.js';
export { MemoryLimitStore } from './memory.js';

export interface StoreDeps {
  logger: Logger;
  metrics?: Pick<Metrics, 'storeFallback'>;
  clock?: Clock;
}

/**
 * Resolves once the store is usable: a Redis or Postgres store that cannot be reached at
 * start is returned already in fallback (logged), never as an error.
 */
export async function createLimitStore(config: Pick<Config, 'store'>, deps: StoreDeps): Promise<LimitStore> {
  const { store } = config;
  const clock = deps.clock;
  if (store.kind === 'memory') return new MemoryLimitStore({ clock });
  const real =
    store.kind === 'redis'
      ? new (await import('./redis.js')).RedisLimitStore({
          url: store.redisUrl,
          keyPrefix: store.keyPrefix,
          logger: deps.logger,
          clock,
        })
      : new (await import('./postgres.js')).PostgresLimitStore({
          url: store.postgresUrl,
          logger: deps.logger,
          clock,
        });
  deps.logger.info('limit store selected', { store: store.kind });
  return new FallbackStore(real, {
    logger: deps.logger,
    metrics: deps.metrics,
    probeIntervalMs: parseDuration(store.probeInterval),
    clock,
  }).start();
}
