/**
 * A parameter server in Redis, for parameter-server training on the cluster (`RedisEngine.runLoop`).
 * It keeps the semantics of the shared-memory server (local/parameter-server.ts), with Redis keys
 * in place of shared memory and Lua scripts (ps-scripts.ts) in place of locks:
 *
 * - the parameters are split into K contiguous shards, one binary float64 key each;
 * - **BSP / SSP(s)**: worker w ends clock c with one script call per shard, all in one pipeline
 *   (one round trip). Each call parks w's delta of clock c; the call that completes a shard's
 *   clock adds every worker's delta in worker order 0..W-1, so the sums are those of the thread
 *   engine, bit for bit. The last shard to finish clock c marks it applied and publishes that on
 *   the loop's channel. `clock()` then returns once clock c − s is applied (c under BSP), waiting
 *   on the channel (with a re-read every second, in case a message is lost);
 * - **ASP**: a push adds straight into the shards (one script call per shard, not awaited) and a
 *   clock only records the worker's clock;
 * - a pull reads every shard, every worker's clock and the abort flag with one MGET, unless the
 *   clock before it brought them along: when a slot need not wait at the end of a clock (it
 *   completed the clock, or SSP lets it run on), the push+clock replies carry the shards and the
 *   clocks, so that clock costs one round trip in all;
 * - a loop is aborted by setting its abort key (the first reason wins) and publishing on the
 *   channel: every script refuses to run after it, and every wait ends with the reason.
 *
 * Keys, under `ClusterKeys.loop(run, step)`: `meta` (the {@link LoopLayout} as JSON), `shard:K`,
 * `delta:K:C` (hash of clock C's deltas, deleted once applied), `done:C`, `applied`, `clock:W`,
 * `abort`, `claim:W` and `live:W` (which worker runs slot W, and its heartbeat), `stats:W`.
 */
import type { Redis } from 'ioredis';
import { DistmlError } from '../../errors.ts';
import type { Consistency } from '../engine.ts';
import { ParameterServerTimeoutError } from '../local/parameter-server.ts';
import { type PsRedis, withScripts } from './ps-scripts.ts';
import { decodeFloat64, encodeFloat64 } from './tensor-codec.ts';

/** Parameters per shard key: one script call then blocks Redis for well under a millisecond. */
export const SHARD_FLOATS = 2048;

/** How one loop is laid out in Redis; the driver writes it, every slot reads it. */
export interface LoopLayout {
  readonly kernel: string;
  readonly mode: Consistency['mode'];
  /** s: 0 under BSP, s under SSP, -1 under ASP (which has no bound). */
  readonly staleness: number;
  /** Number of parameters. */
  readonly size: number;
  /** Loop slots W; slot w loops over the partitions p with p mod W = w. */
  readonly workers: number;
  readonly shards: number;
  /** Partitions of the placement. */
  readonly partitions: number;
  readonly resultLength: number;
  /** Longest wait of one clock end for the other slots. */
  readonly timeoutMs: number;
  /** How long the driver waits for every slot to start (its join timeout). */
  readonly startTimeoutMs: number;
}

/** Names of one loop's keys. */
export class LoopKeys {
  constructor(readonly prefix: string) {}
  get meta(): string {
    return `${this.prefix}:meta`;
  }
  shard(k: number): string {
    return `${this.prefix}:shard:${k}`;
  }
  deltas(k: number, c: number): string {
    return `${this.prefix}:delta:${k}:${c}`;
  }
  /** Clocks applied to shard k (each shard applies its clocks in order). */
  shardApplied(k: number): string {
    return `${this.prefix}:applied:${k}`;
  }
  done(c: number): string {
    return `${this.prefix}:done:${c}`;
  }
  get applied(): string {
    return `${this.prefix}:applied`;
  }
  clock(w: number): string {
    return `${this.prefix}:clock:${w}`;
  }
  get abort(): string {
    return `${this.prefix}:abort`;
  }
  claim(w: number): string {
    return `${this.prefix}:claim:${w}`;
  }
  live(w: number): string {
    return `${this.prefix}:live:${w}`;
  }
  stats(w: number): string {
    return `${this.prefix}:stats:${w}`;
  }
  get channel(): string {
    return `${this.prefix}:events`;
  }
}

/** Index of the first parameter of shard k; shard k covers [start(k), start(k + 1)). */
export function shardStart(layout: LoopLayout, k: number): number {
  return Math.floor((k * layout.size) / layout.shards);
}

/** The label of a mode in messages: BSP, ASP, SSP(s=2). */
export function modeLabel(layout: Pick<LoopLayout, 'mode' | 'staleness'>): string {
  return layout.mode === 'ssp' ? `SSP(s=${layout.staleness})` : layout.mode.toUpperCase();
}

/**
 * Writes a new loop's layout, shards, clocks and applied counter in one transaction.
 * @param init - the starting parameters, split into `layout.shards` keys
 */
export async function createLoop(redis: Redis, keys: LoopKeys, layout: LoopLayout, init: Float64Array) {
  const tx = redis.multi();
  tx.set(keys.meta, JSON.stringify(layout));
  for (let k = 0; k < layout.shards; k++)
    tx.set(keys.shard(k), encodeFloat64(init.subarray(shardStart(layout, k), shardStart(layout, k + 1))));
  tx.set(keys.applied, 0);
  for (let w = 0; w < layout.workers; w++) tx.set(keys.clock(w), 0);
  await tx.exec();
}

/**
 * Reads and checks a loop's layout.
 * @throws DistmlError when the loop is unknown (its keys are gone) or the layout is malformed
 */
export async function readLayout(redis: Redis, keys: LoopKeys): Promise<LoopLayout> {
  const text = await redis.get(keys.meta);
  if (text === null || text.length > 4096)
    throw new DistmlError('KERNEL', `parameter-server loop ${keys.prefix} is not in Redis (or is malformed)`);
  const l = JSON.parse(text) as Partial<LoopLayout>;
  const int = (v: unknown, min: number) => Number.isSafeInteger(v) && (v as number) >= min;
  if (
    typeof l.kernel !== 'string' ||
    (l.mode !== 'bsp' && l.mode !== 'asp' && l.mode !== 'ssp') ||
    !int(l.staleness, -1) ||
    !int(l.size, 1) ||
    !int(l.workers, 1) ||
    !int(l.shards, 1) ||
    (l.shards as number) > (l.size as number) ||
    !int(l.partitions, 1) ||
    !int(l.resultLength, 0) ||
    !(typeof l.timeoutMs === 'number' && l.timeoutMs > 0) ||
    !(typeof l.startTimeoutMs === 'number' && l.startTimeoutMs > 0)
  ) {
    throw new DistmlError('KERNEL', `the layout of parameter-server loop ${keys.prefix} is malformed`);
  }
  return l as LoopLayout;
}

/** The parameters as they are now: every shard read by one MGET (one consistent instant). */
export async function readParams(redis: Redis, keys: LoopKeys, layout: LoopLayout): Promise<Float64Array> {
  const shards = Array.from({ length: layout.shards }, (_, k) => keys.shard(k));
  const values = await redis.mgetBuffer(...shards);
  const out = new Float64Array(layout.size);
  for (let k = 0; k < layout.shards; k++)
    out.set(decodeShard(values[k] ?? null, layout, k), shardStart(layout, k));
  return out;
}

function decodeShard(v: Buffer | null, layout: LoopLayout, k: number): Float64Array {
  const length = shardStart(layout, k + 1) - shardStart(layout, k);
  if (v === null)
    throw new DistmlError(
      'KERNEL',
      `parameter shard ${k} is missing from Redis`,
      'Redis lost or evicted it: run redis-server with maxmemory-policy noeviction',
    );
  const shard = decodeFloat64(v, `parameter shard ${k}`, length * 8);
  if (shard.length !== length)
    throw new DistmlError('KERNEL', `parameter shard ${k} holds ${shard.length} values, expected ${length}`);
  return shard;
}

/**
 * Stops a loop: records `reason` (unless an earlier reason is there: the first failure is the
 * cause, later ones its consequences) and wakes every waiting slot.
 */
export async function abortLoop(redis: Redis, keys: LoopKeys, reason: string): Promise<void> {
  await redis.set(keys.abort, reason, 'NX');
  await redis.publish(keys.channel, 'abort');
}

/** Deletes every key of a loop. */
export async function deleteLoop(redis: Redis, keys: LoopKeys): Promise<void> {
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', `${keys.prefix}:*`, 'COUNT', 500);
    cursor = next;
    if (batch.length > 0) await redis.del(...batch);
  } while (cursor !== '0');
}

/** What one slot measured; written to `stats:W` at the end of its loop, summed by the driver. */
export interface SlotStats {
  pulls: number;
  clocks: number;
  /** Round trips to Redis the slot waited for (pulls, clocks, re-reads while waiting). */
  roundTrips: number;
  bytesOut: number;
  bytesIn: number;
  /** Clock ends that had to wait for others, and the seconds they waited. */
  waits: number;
  waitSeconds: number;
  stalenessMax: number;
  stalenessSum: number;
  stalenessCount: number;
  /** Wall seconds of the loop on this slot. */
  seconds: number;
}

/** Counters at zero. */
export function emptyStats(): SlotStats {
  return {
    pulls: 0,
    clocks: 0,
    roundTrips: 0,
    bytesOut: 0,
    bytesIn: 0,
    waits: 0,
    waitSeconds: 0,
    stalenessMax: 0,
    stalenessSum: 0,
    stalenessCount: 0,
    seconds: 0,
  };
}

/**
 * One loop slot's connection to the parameter server, used by the worker process's main thread on
 * behalf of the loop kernel (which runs on a thread of its own). Pulls and clock ends are awaited;
 * ASP pushes and clocks are sent without waiting (one connection keeps them in order, so a later
 * pull sees them) and their failures are reported by the next awaited call.
 */
export class PsSession {
  readonly stats = emptyStats();
  private readonly redis: PsRedis;
  private clockNow = 0;
  private applied = 0;
  private aborted = false;
  private wake: (() => void) | undefined;
  private failure: Error | undefined;
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly label: string;
  private readonly readKeys: string[];
  /** What the next pull returns, when the end of the clock before it brought it along. */
  private prefetched: (Buffer | null)[] | undefined;

  private constructor(
    redis: Redis,
    private readonly subscriber: Redis,
    private readonly keys: LoopKeys,
    readonly layout: LoopLayout,
    readonly worker: number,
  ) {
    this.redis = withScripts(redis);
    this.label = modeLabel(layout);
    this.readKeys = [
      ...Array.from({ length: layout.shards }, (_, k) => keys.shard(k)),
      ...Array.from({ length: layout.workers }, (_, w) => keys.clock(w)),
      keys.abort,
    ];
  }

  /**
   * Subscribes to the loop's channel (before the first clock, so no applied clock is missed).
   * @param subscriber - a connection of its own: a subscribed connection can do nothing else
   */
  static async open(
    redis: Redis,
    subscriber: Redis,
    keys: LoopKeys,
    layout: LoopLayout,
    worker: number,
  ): Promise<PsSession> {
    const session = new PsSession(redis, subscriber, keys, layout, worker);
    subscriber.on('message', (channel: string, message: string) => {
      if (channel !== keys.channel) return;
      if (message === 'abort') session.aborted = true;
      else session.applied = Math.max(session.applied, Number(message));
      session.wake?.();
    });
    await subscriber.subscribe(keys.channel);
    return session;
  }

  /**
   * Reads the parameters this slot may see now into `into`, and records the staleness: this slot's
   * clock minus the slowest slot's.
   */
  async pull(into: Float64Array): Promise<void> {
    this.check();
    const { layout } = this;
    // The end of the previous clock may have brought this pull along (see syncClock).
    let values = this.prefetched;
    this.prefetched = undefined;
    if (values === undefined) {
      values = await this.redis.mgetBuffer(...this.readKeys);
      this.stats.roundTrips++;
      const abort = values[layout.shards + layout.workers];
      if (abort !== null && abort !== undefined) throw this.abortError(abort.toString());
    }
    this.stats.pulls++;
    for (let k = 0; k < layout.shards; k++) {
      const shard = decodeShard(values[k] ?? null, layout, k);
      into.set(shard, shardStart(layout, k));
      this.stats.bytesIn += shard.byteLength;
    }
    let slowest = Number.POSITIVE_INFINITY;
    for (let w = 0; w < layout.workers; w++)
      slowest = Math.min(slowest, Number(values[layout.shards + w]?.toString() ?? 0));
    const staleness = this.clockNow - slowest;
    this.stats.stalenessMax = Math.max(this.stats.stalenessMax, staleness);
    this.stats.stalenessSum += staleness;
    this.stats.stalenessCount++;
  }

  /**
   * BSP and SSP: ends this slot's clock c with its summed pushes of the clock (`delta`, or none),
   * then waits until clock c − s is applied.
   * @throws ParameterServerTimeoutError naming this slot, its clock and the slowest slot
   */
  async syncClock(delta: Float64Array | undefined): Promise<void> {
    this.check();
    this.prefetched = undefined;
    const { layout, keys } = this;
    const c = this.clockNow;
    this.clockNow = c + 1;
    const target = c + 1 - layout.staleness;
    const pipeline = this.redis.pipeline() as unknown as PsRedis & {
      exec(): Promise<[Error | null, unknown][] | null>;
    };
    const empty = Buffer.alloc(0);
    const clocks = Array.from({ length: layout.workers }, (_, w) => keys.clock(w));
    for (let k = 0; k < layout.shards; k++) {
      const bytes =
        delta === undefined
          ? empty
          : encodeFloat64(delta.subarray(shardStart(layout, k), shardStart(layout, k + 1)));
      this.stats.bytesOut += bytes.byteLength;
      // The last shard's call also reads every slot's clock, for the staleness of the next pull.
      const shardKeys = [
        keys.shard(k),
        keys.deltas(k, c),
        keys.clock(this.worker),
        keys.done(c),
        keys.applied,
        keys.abort,
        keys.shardApplied(k),
        ...(k === layout.shards - 1 ? clocks : []),
      ];
      void pipeline.psSyncClockBuffer(
        shardKeys.length,
        ...shardKeys,
        this.worker,
        c,
        layout.workers,
        layout.shards,
        bytes,
        keys.channel,
        target,
      );
    }
    const replies = await pipeline.exec();
    this.stats.roundTrips++;
    this.stats.clocks++;
    // When every shard already holds the clocks this slot waits for, the replies carry the shards
    // and the clocks: the next pull, exactly as an MGET now would return it, without a round trip.
    const next: (Buffer | null)[] = [];
    for (const [err, value] of replies ?? []) {
      if (err !== null) throw err;
      const [applied, shard, ...clockValues] = value as [number, Buffer?, ...Buffer[]];
      if (applied === -1) throw await this.abortReason();
      this.applied = Math.max(this.applied, applied);
      next.push(shard ?? null);
      if (clockValues.length > 0) next.push(...clockValues);
    }
    if (next.length === layout.shards + layout.workers && next.every((v) => v !== null)) {
      this.prefetched = next;
      return;
    }
    await this.awaitApplied(target, c);
  }

  /** ASP: adds `delta` into the shards now (sent, not awaited). */
  aspPush(delta: Float64Array): void {
    this.check();
    const { layout, keys } = this;
    for (let k = 0; k < layout.shards; k++) {
      const bytes = encodeFloat64(delta.slice(shardStart(layout, k), shardStart(layout, k + 1)));
      this.stats.bytesOut += bytes.byteLength;
      this.track(
        this.redis.psAspAdd(keys.shard(k), keys.abort, bytes).then(async (r) => {
          if (r === -1) throw await this.abortReason();
        }),
      );
    }
  }

  /** ASP: ends this slot's clock without waiting (it only serves the staleness measure). */
  aspClock(): void {
    this.check();
    this.clockNow++;
    this.stats.clocks++;
    this.track(this.redis.set(this.keys.clock(this.worker), this.clockNow));
  }

  /** Waits for the calls sent without waiting. @throws the first of their errors */
  async flush(): Promise<void> {
    await Promise.allSettled([...this.inFlight]);
    this.check();
  }

  /** Leaves the channel. */
  async close(): Promise<void> {
    this.wake = undefined;
    await this.subscriber.unsubscribe(this.keys.channel).catch(() => {});
  }

  private track(p: Promise<unknown>): void {
    const tracked = p.then(
      () => {},
      (err: Error) => {
        this.failure ??= err;
      },
    );
    this.inFlight.add(tracked);
    void tracked.finally(() => this.inFlight.delete(tracked));
  }

  private check(): void {
    if (this.failure !== undefined) throw this.failure;
  }

  /** Blocks until at least `target` clocks are applied; `c` is the clock being ended, for errors. */
  private async awaitApplied(target: number, c: number): Promise<void> {
    if (this.applied >= target) return;
    const started = performance.now();
    const deadline = started + this.layout.timeoutMs;
    while (this.applied < target) {
      if (this.aborted) throw await this.abortReason();
      const remaining = deadline - performance.now();
      if (remaining <= 0) throw await this.timeout(target, c);
      const woken = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), Math.min(remaining, 1000));
        this.wake = () => {
          clearTimeout(timer);
          resolve(true);
        };
      });
      this.wake = undefined;
      if (!woken) {
        // A quiet second: re-read in case a message was lost (a reconnect drops pub/sub messages).
        const [applied, abort] = await this.redis.mget(this.keys.applied, this.keys.abort);
        this.stats.roundTrips++;
        this.applied = Math.max(this.applied, Number(applied ?? 0));
        if (abort !== null) this.aborted = true;
      }
    }
    this.stats.waits++;
    this.stats.waitSeconds += (performance.now() - started) / 1000;
  }

  private async abortReason(): Promise<Error> {
    const reason = await this.redis.get(this.keys.abort);
    return this.abortError(reason ?? 'its keys are gone from Redis');
  }

  private abortError(reason: string): Error {
    this.aborted = true;
    return new DistmlError('KERNEL', `parameter-server loop stopped (slot ${this.worker}): ${reason}`);
  }

  private async timeout(target: number, c: number): Promise<Error> {
    const { layout, keys } = this;
    const clocks = await this.redis
      .mget(...Array.from({ length: layout.workers }, (_, w) => keys.clock(w)))
      .catch(() => [] as (string | null)[]);
    let slow = 0;
    let slowClock = Number.POSITIVE_INFINITY;
    clocks.forEach((v, w) => {
      if (Number(v) < slowClock) {
        slowClock = Number(v);
        slow = w;
      }
    });
    return new ParameterServerTimeoutError(
      this.worker,
      c,
      layout.mode,
      `parameter server (${this.label}): loop slot ${this.worker} timed out after ${layout.timeoutMs} ms at the end of ` +
        `clock ${c}, waiting for clock ${target - 1} to be applied; the slowest slot is ${slow}, at clock ${slowClock}`,
      `slot ${slow}'s worker process may have died, hung or been stopped; raise timeoutMs if it is only slow`,
    );
  }
}
