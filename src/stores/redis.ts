/**
 * LimitStore on Redis, shared by every replica. Each operation is one Lua script, so a claim
 * and the read of its holder, or a count and its expiry, are atomic on the server.
 *
 * The client is set up to fail fast instead of waiting: with ioredis' defaults a command
 * sent while Redis is down waits through ~20 reconnects (about 70 s) before it fails. Here
 * a command fails at once when the connection is not ready, and FallbackStore answers from
 * memory while ioredis keeps reconnecting in the background.
 */
import { createHash } from 'node:crypto';
import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from '../observability/logger.js';
import { systemClock, type Clock } from '../util/clock.js';
import { errorMessage } from '../util/errors.js';
import { withTimeout, type BackendStore } from './backend.js';
import { windowStart, type LimitSnapshot } from './memory.js';
import type { AdmissionRequest, AdmissionResult, WindowCount } from './types.js';

/** Takes the claim when free; returns {1, owner} when taken, else {0, holder}. */
const CLAIM = `
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return {1, ARGV[1]} end
return {0, redis.call('GET', KEYS[1])}`;
/** Deletes the claim only if `owner` still holds it, so a late release cannot free someone else's. */
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;
/** Adds ARGV[2] and (re)sets the expiry, so a window key never outlives its window. */
const INCREMENT = `
local n = redis.call('INCRBY', KEYS[1], ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return n`;
/** Takes one back if the counter still exists and is above zero; never creates it again. */
const DECREMENT = `
local v = tonumber(redis.call('GET', KEYS[1]))
if v and v > 0 then return redis.call('DECR', KEYS[1]) end
return 0`;

/**
 * `claimAndIncrementMany()`: per request, in order, the claim script then (when it took the
 * claim, or there is none) the count script. KEYS: each request's claim key, then its counter
 * key, for the parts it has. ARGV: five per request: has a claim (1/0), owner, claim ttl, has a
 * rate (1/0), counter ttl. Returns three per request: claim taken 1/0 (-1: none), holder (''),
 * count (-1: none). Redis does not roll a script back when a command in it fails, so a failure
 * gives back what the script took before it (newest first) and then fails the call.
 */
const ADMIT_MANY = `
local out, undo, k = {}, {}, 1
local function fail(e)
  for u = #undo, 1, -1 do
    local x = undo[u]
    if x[1] == 'claim' then
      if redis.call('GET', x[2]) == x[3] then redis.call('DEL', x[2]) end
    else
      local v = tonumber(redis.call('GET', x[2]))
      if v and v > 0 then redis.call('DECR', x[2]) end
    end
  end
  -- A string, not the error table: Redis 6 cannot pass a table on (7 can).
  error(e.err)
end
local function call(...)
  local r = redis.pcall(...)
  if type(r) == 'table' and r.err then fail(r) end
  return r
end
for i = 0, #ARGV / 5 - 1 do
  local a = i * 5
  local took, holder, count = -1, '', -1
  if ARGV[a + 1] == '1' then
    local key, owner = KEYS[k], ARGV[a + 2]
    k = k + 1
    if call('SET', key, owner, 'NX', 'PX', ARGV[a + 3]) then
      took, holder = 1, owner
      undo[#undo + 1] = {'claim', key, owner}
    else
      took, holder = 0, call('GET', key)
      if not holder then fail({err = 'ERR claim of ' .. key .. ' found no holder after SET NX failed'}) end
    end
  end
  if ARGV[a + 4] == '1' then
    local key = KEYS[k]
    k = k + 1
    if took ~= 0 then
      count = call('INCRBY', key, 1)
      undo[#undo + 1] = {'count', key}
      call('PEXPIRE', key, ARGV[a + 5])
    end
  end
  out[#out + 1] = took
  out[#out + 1] = holder
  out[#out + 1] = count
end
return out`;

/** Windows end at the same instant on every replica; this margin covers their clock skew. */
const EXPIRY_GRACE_MS = 5_000;

export interface RedisLimitStoreOptions {
  url: string;
  keyPrefix: string;
  logger: Logger;
  clock?: Clock;
  /** Bounds connecting and every command, so a hung server looks like a down one. */
  timeoutMs?: number;
}

export class RedisLimitStore implements BackendStore {
  readonly kind = 'redis' as const;
  private readonly redis: Redis;
  private readonly prefix: string;
  private readonly clock: Clock;
  private readonly timeoutMs: number;
  private readonly shas = new Map<string, string>();
  private connectedOnce = false;
  private readyWait: Promise<void> | undefined;

  constructor(opts: RedisLimitStoreOptions) {
    this.prefix = opts.keyPrefix;
    this.clock = opts.clock ?? systemClock;
    this.timeoutMs = opts.timeoutMs ?? 1000;
    const options: RedisOptions = {
      // RESP2 works with every Redis and Redis-compatible server; nothing here needs RESP3.
      protocol: 2,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      connectTimeout: this.timeoutMs,
      commandTimeout: this.timeoutMs,
      // Reconnect at least every 2 s (ioredis' default backs off to 5 s), so recovery is seen soon.
      retryStrategy: (times: number) => Math.min(times * 200, 2000),
    };
    this.redis = new Redis(opts.url, options);
    this.redis.once('ready', () => {
      this.connectedOnce = true;
    });
    // Without a listener ioredis prints "Unhandled error event" for every failed reconnect.
    this.redis.on('error', (err: Error) =>
      opts.logger.debug('redis connection error', { error: err.message }),
    );
  }

  isReady(): boolean {
    return this.redis.status === 'ready';
  }

  async ping(): Promise<void> {
    await this.waitReady();
    await withTimeout(this.redis.ping(), this.timeoutMs, 'redis ping');
  }

  async claim(key: string, owner: string, ttlMs: number): Promise<{ acquired: boolean; owner: string }> {
    const [took, holder] = (await this.run(
      CLAIM,
      [this.claimKey(key)],
      [owner, String(Math.max(1, Math.ceil(ttlMs)))],
    )) as [number, string | null];
    // Redis freezes time inside a script, so a failed SET NX always finds a holder; a nil
    // here would mean a foreign value under our key, and guessing an owner could double-act.
    if (holder === null) throw new Error(`redis claim of ${key} found no holder after SET NX failed`);
    return { acquired: took === 1, owner: holder };
  }

  async release(key: string, owner: string): Promise<void> {
    await this.run(RELEASE, [this.claimKey(key)], [owner]);
  }

  async increment(key: string, windowMs: number): Promise<WindowCount> {
    const start = windowStart(this.clock.now().getTime(), windowMs);
    return { count: await this.add(key, windowMs, start, 1), windowStart: start };
  }

  async decrement(key: string, windowMs: number, start: number): Promise<void> {
    await this.run(DECREMENT, [this.counterKey(key, windowMs, start)], []);
  }

  /** One request of `claimAndIncrementMany()`: one round trip, and all or nothing. */
  async claimAndIncrement(request: AdmissionRequest): Promise<AdmissionResult> {
    return (await this.claimAndIncrementMany([request]))[0]!;
  }

  /** One script: one round trip, the requests in order, all or nothing (see ADMIT_MANY). */
  async claimAndIncrementMany(requests: readonly AdmissionRequest[]): Promise<AdmissionResult[]> {
    if (requests.length === 0) return [];
    const now = this.clock.now().getTime();
    const keys: string[] = [];
    const args: string[] = [];
    const starts = requests.map(({ cooldown, rate }) => {
      if (cooldown) keys.push(this.claimKey(cooldown.key));
      args.push(
        cooldown ? '1' : '0',
        cooldown?.owner ?? '',
        String(Math.max(1, Math.ceil(cooldown?.ttlMs ?? 1))),
      );
      if (!rate) {
        args.push('0', '0');
        return undefined;
      }
      const start = windowStart(now, rate.windowMs);
      keys.push(this.counterKey(rate.key, rate.windowMs, start));
      args.push('1', String(counterTtl(start, rate.windowMs, now)));
      return start;
    });
    const flat = (await this.run(ADMIT_MANY, keys, args)) as (number | string)[];
    return requests.map((r, i): AdmissionResult => {
      const [took, holder, count] = flat.slice(i * 3, i * 3 + 3) as [number, string, number];
      const claim = r.cooldown ? { claim: { acquired: took === 1, owner: holder } } : {};
      return count < 0 ? claim : { ...claim, count, windowStart: starts[i]! };
    });
  }

  async absorb(snapshot: LimitSnapshot): Promise<void> {
    for (const c of snapshot.claims) await this.claim(c.key, c.owner, c.ttlMs);
    for (const c of snapshot.counters) await this.add(c.key, c.windowMs, c.windowStart, c.count);
  }

  async close(): Promise<void> {
    try {
      await withTimeout(this.redis.quit(), this.timeoutMs, 'redis quit');
    } catch {
      // Down or slow: there is nothing to flush, so cutting the connection loses nothing.
      this.redis.disconnect();
    }
  }

  /**
   * Commands fail at once while the client is (re)connecting, so a ping right after start
   * would always fail; wait for the connection instead, up to the timeout or its first error.
   */
  private waitReady(): Promise<void> {
    if (this.redis.status === 'ready') return Promise.resolve();
    // Callers that arrive together share one wait (and one pair of listeners).
    this.readyWait ??= new Promise<void>((resolve, reject) => {
      const done = (err?: Error): void => {
        clearTimeout(timer);
        this.redis.off('ready', onReady);
        this.redis.off('error', done);
        if (err) reject(err);
        else resolve();
      };
      const onReady = (): void => done();
      const timer = setTimeout(
        () => done(new Error(`redis not ready after ${this.timeoutMs}ms`)),
        this.timeoutMs,
      );
      this.redis.once('ready', onReady);
      this.redis.once('error', done);
    }).finally(() => {
      this.readyWait = undefined;
    });
    return this.readyWait;
  }

  private async add(key: string, windowMs: number, start: number, by: number): Promise<number> {
    const ttl = counterTtl(start, windowMs, this.clock.now().getTime());
    return (await this.run(
      INCREMENT,
      [this.counterKey(key, windowMs, start)],
      [String(ttl), String(by)],
    )) as number;
  }

  private claimKey(key: string): string {
    return `${this.prefix}claim:${key}`;
  }

  private counterKey(key: string, windowMs: number, start: number): string {
    return `${this.prefix}count:${key}:${windowMs}:${start}`;
  }

  /** EVALSHA, loading the script with EVAL the first time or after the server lost its cache. */
  private async run(script: string, keys: string[], args: string[]): Promise<unknown> {
    // Only the first connect is waited for, so a store used right after construction works;
    // once connected, a lost connection fails at once and FallbackStore takes over.
    if (!this.connectedOnce) await this.waitReady();
    let sha = this.shas.get(script);
    if (!sha) {
      sha = createHash('sha1').update(script).digest('hex');
      this.shas.set(script, sha);
    }
    try {
      return await this.redis.evalsha(sha, keys.length, ...keys, ...args);
    } catch (err) {
      if (!errorMessage(err).startsWith('NOSCRIPT')) throw err;
      return this.redis.eval(script, keys.length, ...keys, ...args);
    }
  }
}

/** A window's counter lives until the window ends, plus the grace for clock skew. */
function counterTtl(start: number, windowMs: number, now: number): number {
  return Math.max(1, start + windowMs + EXPIRY_GRACE_MS - now);
}
