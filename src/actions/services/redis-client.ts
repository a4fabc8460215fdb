/**
 * The Redis side of redisCheck and redisCommand, in its own module so that the driver loads
 * only when a step needs it (redis.ts imports this module lazily).
 */
import { Redis } from 'ioredis';
import { errorMessage } from '../../util/errors.js';
import { EXTERNAL_TIMEOUT_MS } from './replies.js';
import { checkOutbound } from '../../security/outbound.js';

const CONNECT_TIMEOUT_MS = 3000;

/**
 * Runs one command on a fresh connection and closes it. The options make a dead server fail
 * the command at once instead of queueing it through ~70 s of reconnects; the error listener
 * keeps ioredis from reporting the failure as an unhandled 'error' event.
 */
export async function runRedis(
  url: string,
  command: readonly string[],
  timeoutMs: number = EXTERNAL_TIMEOUT_MS,
): Promise<unknown> {
  // outbound.allow (src/security/outbound.ts): before connecting.
  await checkOutbound(url);
  const client = new Redis(url, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    connectTimeout: Math.min(CONNECT_TIMEOUT_MS, timeoutMs),
    commandTimeout: timeoutMs,
    retryStrategy: () => null,
  });
  let lastError: unknown;
  client.on('error', (err: unknown) => {
    lastError = err;
  });
  try {
    await client.connect();
    const [name, ...args] = command;
    return await client.call(name!, ...args);
  } catch (err) {
    throw lastError && lastError !== err
      ? new Error(`${errorMessage(err)} (${errorMessage(lastError)})`, { cause: err })
      : err;
  } finally {
    client.disconnect();
  }
}
