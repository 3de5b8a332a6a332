/**
 * The driver's side of `RedisEngine.runLoop`: parameter-server training on the cluster. It lays
 * the parameter server out in Redis (redis-parameter-server.ts), queues one task per loop slot
 * (W = the engine's workers, or fewer when there are fewer partitions; slot w loops over the
 * partitions p with p mod W = w, as on the thread engine), and watches the slots while they run:
 *
 * - every slot needs a task slot of a worker at the same time (a worker runs `--threads` tasks at
 *   once; W counts those threads, and slot w goes to the owner of partition w, which the deal by
 *   capacity spreads so that no worker gets more slots than threads). If the W slots have not all
 *   started within the join timeout, the loop stops and says so;
 * - a slot whose heartbeat stops mid-loop (its process died) stops the loop with an error naming
 *   the slot and the worker. Parameter-server training is not retried (the Engine contract):
 *   resuming the others' clocks without the lost slot's updates would be another algorithm.
 *
 * When every slot is done, the parameters are read back, the slots' counters summed, and the
 * loop's keys deleted.
 */
import type { Redis } from 'ioredis';
import { TaskFailedError } from '../../errors.ts';
import type { Consistency, DistributedMatrix, LoopResult } from '../engine.ts';
import { getLoopKernel, type KernelArgs } from '../kernel-registry.ts';
import type { ClusterKeys } from './cluster-keys.ts';
import {
  abortLoop,
  createLoop,
  deleteLoop,
  emptyStats,
  LoopKeys,
  type LoopLayout,
  modeLabel,
  readParams,
  SHARD_FLOATS,
  type SlotStats,
} from './redis-parameter-server.ts';
import { withTimeout } from './timeouts.ts';

/** How often the driver looks at the slots' claims and heartbeats. */
const WATCH_MS = 250;
/** Bounds of the driver's reads after a loop, and of each step of its cleanup after a failure. */
const READ_MS = 30_000;
const CLEANUP_MS = 3000;

/** What the engine lends the loop runner. */
export interface LoopHost {
  readonly redis: Redis;
  readonly keys: ClusterKeys;
  readonly run: string;
  readonly workers: number;
  readonly joinTimeoutMs: number;
  /** A fresh step number (names the loop's keys and its tasks). */
  nextStep(): number;
  /** Stores kernel arguments for `step`; returns their key. */
  putArgs(step: number, args: KernelArgs): Promise<string>;
  /** Withdraws the arguments put out by {@link putArgs}. */
  dropArgs(key: string): Promise<void>;
  /** Queues the task of slot `slot` and resolves with its result (the engine's task path). */
  runTask(
    kernel: string,
    on: DistributedMatrix,
    slot: number,
    step: number,
    argsKey: string,
    length: number,
  ): Promise<Float64Array>;
  /** Takes a task that has not started off the queue. */
  removeTask(step: number, slot: number): Promise<void>;
  /** `p`, or the run's loss if that comes first (see RedisEngine), so no call waits forever. */
  io<T>(p: Promise<T>): Promise<T>;
  log?(line: string): void;
}

/** Parameter-server counters of an engine, summed over its loops and slots. */
export interface LoopTelemetry {
  loops: number;
  /** Clocks run, summed over slots. */
  clocks: number;
  roundTrips: number;
  bytesOut: number;
  bytesIn: number;
  /** Seconds slots spent waiting for others at clock ends. */
  waitSeconds: number;
  /** Slot wall seconds, summed over slots. */
  slotSeconds: number;
}

/** Counters at zero. */
export function emptyLoopTelemetry(): LoopTelemetry {
  return { loops: 0, clocks: 0, roundTrips: 0, bytesOut: 0, bytesIn: 0, waitSeconds: 0, slotSeconds: 0 };
}

/**
 * How many slots a loop over `partitions` partitions has on an engine of `workers` workers: one
 * per worker, but never more than there are partitions. Slot w owns the partitions p mod W = w.
 */
export function loopSlots(workers: number, partitions: number): number {
  return Math.max(1, Math.min(workers, partitions));
}

/** Runs one parameter-server loop on the cluster; see the module comment. */
export async function runClusterLoop(
  host: LoopHost,
  telemetry: LoopTelemetry,
  kernelName: string,
  on: DistributedMatrix,
  args: KernelArgs,
  init: Float64Array,
  consistency: Consistency,
  options: { readonly timeoutMs?: number } = {},
): Promise<LoopResult> {
  const kernel = getLoopKernel(kernelName);
  const W = loopSlots(host.workers, on.partitions);
  const step = host.nextStep();
  const keys = new LoopKeys(host.keys.loop(host.run, step));
  const layout: LoopLayout = {
    kernel: kernelName,
    mode: consistency.mode,
    staleness: consistency.mode === 'ssp' ? consistency.staleness : consistency.mode === 'bsp' ? 0 : -1,
    size: init.length,
    workers: W,
    shards: Math.max(1, Math.ceil(init.length / SHARD_FLOATS)),
    partitions: on.partitions,
    resultLength: kernel.resultLength(args, on.cols),
    timeoutMs: options.timeoutMs ?? 30_000,
    startTimeoutMs: host.joinTimeoutMs,
  };
  const label = `parameter-server loop ${kernelName} (${modeLabel(layout)}, ${W} slots)`;
  await host.io(createLoop(host.redis, keys, layout, init));
  const argsKey = await host.putArgs(step, args);
  host.log?.(`${label}: waiting for ${W} workers to take a slot each`);

  // The first failure the driver sees (a lost slot, too few workers) or that a slot reports.
  let fail: (err: Error) => void = () => {};
  const failed = new Promise<never>((_, reject) => {
    fail = reject;
  });
  const finished = new Array<boolean>(W).fill(false);
  const slots = Array.from({ length: W }, (_, w) =>
    host.runTask(kernelName, on, w, step, argsKey, layout.resultLength).then(
      (out) => {
        finished[w] = true;
        return out;
      },
      (err: Error) => {
        finished[w] = true;
        throw err;
      },
    ),
  );
  for (const s of slots) s.catch(() => {});
  const watch = watchSlots(host, keys, W, finished, label, (err) => fail(err));
  try {
    const perWorker = await Promise.race([Promise.all(slots), failed]);
    const params = await within(readParams(host.redis, keys, layout), READ_MS, 'reading the parameters');
    const stats = await within(readStats(host.redis, keys, W), READ_MS, "reading the slots' counters");
    let max = 0;
    let sum = 0;
    let count = 0;
    for (const s of stats) {
      max = Math.max(max, s.stalenessMax);
      sum += s.stalenessSum;
      count += s.stalenessCount;
      telemetry.clocks += s.clocks;
      telemetry.roundTrips += s.roundTrips;
      telemetry.bytesOut += s.bytesOut;
      telemetry.bytesIn += s.bytesIn;
      telemetry.waitSeconds += s.waitSeconds;
      telemetry.slotSeconds += s.seconds;
    }
    telemetry.loops++;
    return { params, perWorker, staleness: { max, mean: count === 0 ? 0 : sum / count }, workers: W };
  } catch (err) {
    const cause = err as Error;
    // Redis may be the cause (unreachable, with commands queued until it is back): every step of
    // the cleanup is bounded, so the error is reported either way.
    await within(abortLoop(host.redis, keys, cause.message), CLEANUP_MS, 'abort').catch(() => {});
    // The reason recorded first names the root cause (a slot's own failure, or the driver's).
    const reason =
      (await within(host.redis.get(keys.abort), CLEANUP_MS, 'abort').catch(() => null)) ?? cause.message;
    await Promise.all(
      Array.from({ length: W }, (_, w) =>
        finished[w] ? undefined : within(host.removeTask(step, w), CLEANUP_MS, 'remove').catch(() => {}),
      ),
    );
    // Give the slots still running a moment to stop at the abort, so their processes are free
    // for the next fit. A lost slot's task never settles (its process is gone): its heartbeat
    // has, which is what is waited for.
    const liveKeys = Array.from({ length: W }, (_, w) => keys.live(w));
    for (const until = Date.now() + 5000; Date.now() < until; ) {
      const live = await within(host.redis.mget(...liveKeys), CLEANUP_MS, 'heartbeats').catch(() =>
        liveKeys.map(() => null),
      );
      if (live.every((v, w) => finished[w] || v === null || v === 'done')) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new TaskFailedError(
      `${label} failed: ${reason}`,
      'parameter-server training is not retried: rerun the fit once every worker is healthy (see the workers’ logs)',
    );
  } finally {
    clearInterval(watch);
    await within(deleteLoop(host.redis, keys), CLEANUP_MS, 'cleanup').catch(() => {});
    await within(host.dropArgs(argsKey), CLEANUP_MS, 'cleanup').catch(() => 0);
  }
}

/**
 * Watches the slots' claims and heartbeats: fails the loop when a started slot's heartbeat is gone
 * before its task finished, or when the slots have not all started within the join timeout.
 */
function watchSlots(
  host: LoopHost,
  keys: LoopKeys,
  W: number,
  finished: readonly boolean[],
  label: string,
  fail: (err: Error) => void,
): NodeJS.Timeout {
  const started = Date.now();
  let asking = false;
  let allStarted = false;
  const claimKeys = Array.from({ length: W }, (_, w) => keys.claim(w));
  const liveKeys = Array.from({ length: W }, (_, w) => keys.live(w));
  const clockKeys = Array.from({ length: W }, (_, w) => keys.clock(w));
  const timer = setInterval(() => {
    if (asking) return;
    asking = true;
    host.redis
      .mget(...claimKeys, ...liveKeys, ...clockKeys)
      .then((v) => {
        const claims = v.slice(0, W);
        const live = v.slice(W, 2 * W);
        for (let w = 0; w < W; w++) {
          // A heartbeat is renewed every 0.5 s and lives 2.5 s: its absence is a lost process.
          if (claims[w] !== null && live[w] === null && !finished[w]) {
            clearInterval(timer);
            fail(
              new TaskFailedError(
                `slot ${w} (worker '${claims[w]}') was lost mid-loop at clock ${v[2 * W + w] ?? '?'}: its heartbeat stopped`,
              ),
            );
            return;
          }
        }
        const waiting = claims.filter((c) => c === null).length;
        if (!allStarted && waiting === 0) {
          allStarted = true;
          host.log?.(`${label}: running on ${[...new Set(claims)].join(', ')}`);
        }
        if (!allStarted && Date.now() - started > host.joinTimeoutMs) {
          clearInterval(timer);
          fail(
            new TaskFailedError(
              `only ${W - waiting} of its ${W} slots started within ${Math.round(host.joinTimeoutMs / 1000)} s; ` +
                'each slot needs a `distml worker` thread of its own at the same time, and starts once it has loaded its partitions',
              'start more workers (or give them more --threads), train with fewer --partitions, or raise --join-timeout if the workers are still reading their partitions',
            ),
          );
        }
      })
      .catch(() => {
        // Redis trouble: the engine's own watch reports an unreachable or flushed Redis.
      })
      .finally(() => {
        asking = false;
      });
  }, WATCH_MS);
  timer.unref();
  return timer;
}

async function readStats(redis: Redis, keys: LoopKeys, W: number): Promise<SlotStats[]> {
  const values = await redis.mget(...Array.from({ length: W }, (_, w) => keys.stats(w)));
  return values.map((v) => {
    if (v === null) return emptyStats();
    const parsed = JSON.parse(v) as Partial<SlotStats>;
    const out = emptyStats();
    for (const key of Object.keys(out) as (keyof SlotStats)[]) {
      const x = parsed[key];
      if (typeof x === 'number' && Number.isFinite(x)) out[key] = x;
    }
    return out;
  });
}

/** `p`, or a rejection naming `what` after `ms` (Redis commands wait while it is unreachable). */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return withTimeout(
    p,
    ms,
    () => new TaskFailedError(`Redis did not answer within ${ms / 1000} s (${what})`),
  );
}
