/**
 * A parameter server in shared memory, for SGD-style training on the worker threads of one
 * machine. The driver creates it; each worker thread attaches through the plain
 * {@link ParameterServerHandle} (SharedArrayBuffers and numbers, so `postMessage` shares the memory
 * rather than copying it) and runs `pull → gradient → push → clock` in a loop.
 *
 * Three consistency modes (Ho et al., "More Effective Distributed ML via a Stale Synchronous
 * Parallel Parameter Server", 2013):
 *
 * - **BSP** — a worker's pushes of clock c land in its own delta buffer. When the last worker
 *   finishes clock c, that worker adds every worker's clock-c deltas to the parameters in worker
 *   order 0..W-1 and marks clock c applied. `clock()` returns once clock c is applied, so the next
 *   `pull` sees every update through clock c. The result depends only on the deltas, never on
 *   thread timing.
 * - **SSP(s)** — the same machinery with a ring of s + 1 delta buffers per worker; `clock()` at the
 *   end of clock c returns as soon as every clock ≤ c − s is applied, so no worker runs more than s
 *   clocks ahead of the slowest. BSP is SSP(0), and runs the same code.
 * - **ASP** (Hogwild) — `push` adds straight into the shared parameters without a lock and
 *   `clock()` never waits; it only advances the clock so staleness can be measured.
 *
 * Memory layout: `params` (n float64), `deltas` (W × slots × n float64: worker w's slot for clock c
 * is `w·slots + c mod slots`), `control` (int32 cells: applied clocks, each worker's clock, one
 * arrival counter per slot, one lock per shard) and `stats` (float64 counters, one row per worker,
 * each row written only by its own worker so counting needs no atomics).
 */
import { DistmlError, ParamError } from '../../errors.ts';
import { lockCell, unlockCell } from './shard-lock.ts';

/** How workers' updates are synchronized; see the module comment. */
export type { Consistency } from '../engine.ts';

import type { Consistency } from '../engine.ts';

/** Options of {@link SharedParameterServer.create}. */
export interface ParameterServerOptions {
  /**
   * How long any one wait (for a clock to be applied, or for a shard lock) may last before the
   * waiting thread throws {@link ParameterServerTimeoutError}.
   * @defaultValue 30000
   */
  timeoutMs?: number;
  /**
   * Number of contiguous blocks the parameters are split into, each under its own lock, so a
   * reader and the thread applying a clock can work on different blocks at once.
   * @defaultValue min(workers, ⌈n / 256⌉), at least 1
   */
  shards?: number;
}

/**
 * Everything a worker needs to attach to a parameter server: shared buffers and sizes. It is plain
 * structured-cloneable data; sending it with `postMessage` or `workerData` shares the buffers.
 */
export interface ParameterServerHandle {
  readonly mode: Consistency['mode'];
  /** The staleness bound s: 0 under BSP, s under SSP, `Infinity` under ASP. */
  readonly staleness: number;
  /** Number of parameters. */
  readonly size: number;
  readonly workers: number;
  readonly shards: number;
  /** Delta buffers per worker: s + 1 under BSP and SSP, 0 under ASP. */
  readonly slots: number;
  readonly timeoutMs: number;
  /** n float64: the parameters. */
  readonly params: SharedArrayBuffer;
  /** workers × slots × n float64: pushed deltas waiting for their clock to be applied. */
  readonly deltas: SharedArrayBuffer;
  /** int32 cells: applied clocks, worker clocks, arrival counters, shard locks. */
  readonly control: SharedArrayBuffer;
  /** workers × 6 float64: per-worker counters for {@link SharedParameterServer.stats}. */
  readonly stats: SharedArrayBuffer;
}

/** Staleness one worker measured at its pulls: its own clock minus the slowest worker's clock. */
export interface StalenessCounter {
  readonly max: number;
  readonly sum: number;
  readonly count: number;
}

/** What {@link SharedParameterServer.stats} reports. */
export interface ParameterServerStats {
  /** Clocks each worker has finished. */
  readonly clocks: number[];
  /** Clocks whose deltas are in the parameters (BSP and SSP; 0 under ASP). */
  readonly applied: number;
  /** The largest staleness any worker measured at a pull. */
  readonly maxStalenessSeen: number;
  /** The largest staleness each worker measured at a pull. */
  readonly maxStalenessByWorker: number[];
  /** Mean staleness over all pulls of all workers (0 before the first pull). */
  readonly meanStaleness: number;
  /** `clock()` calls that had to block. */
  readonly waits: number;
  /** Seconds spent blocked in `clock()`, summed over workers. */
  readonly waitSeconds: number;
  /** `push()` calls, summed over workers. */
  readonly updates: number;
}

/**
 * A wait of the parameter server that ran past `timeoutMs`: usually a worker that crashed, hung or
 * stopped calling `clock()`. `worker` is the thread that gave up (`'driver'` for a snapshot).
 */
export class ParameterServerTimeoutError extends DistmlError {
  constructor(
    readonly worker: number | 'driver',
    readonly clock: number,
    readonly mode: string,
    message: string,
    hint: string,
  ) {
    super('KERNEL', message, hint);
  }
}

// control cells
const APPLIED = 0;
const CLOCKS = 1;
// stats fields, per worker row
const ST_MAX = 0;
const ST_SUM = 1;
const ST_COUNT = 2;
const ST_WAITS = 3;
const ST_WAIT_SECONDS = 4;
const ST_PUSHES = 5;
const STAT_FIELDS = 6;

/** Typed views of a handle's buffers, shared by the driver and the client. */
class Views {
  readonly params: Float64Array;
  readonly deltas: Float64Array;
  readonly control: Int32Array;
  readonly stats: Float64Array;
  /** First arrival counter cell. */
  readonly arrive: number;
  /** First shard lock cell. */
  readonly locks: number;
  readonly label: string;

  constructor(readonly h: ParameterServerHandle) {
    const { size: n, workers: W, slots, shards } = h;
    this.arrive = CLOCKS + W;
    this.locks = this.arrive + slots;
    this.params = new Float64Array(h.params);
    this.deltas = new Float64Array(h.deltas);
    this.control = new Int32Array(h.control);
    this.stats = new Float64Array(h.stats);
    // A handle built by hand or by another version would otherwise corrupt memory silently.
    if (
      this.params.length !== n ||
      this.deltas.length !== W * slots * n ||
      this.control.length !== this.locks + shards ||
      this.stats.length !== W * STAT_FIELDS
    ) {
      throw new ParamError(
        `parameter server handle: buffer sizes do not match size ${n}, workers ${W}, slots ${slots}, shards ${shards}`,
        'pass the handle of SharedParameterServer.create unchanged',
      );
    }
    this.label = h.mode === 'ssp' ? `SSP(s=${h.staleness})` : h.mode.toUpperCase();
  }

  /** Index of the first parameter of `shard`; shard k covers [start(k), start(k + 1)). */
  start(shard: number): number {
    return Math.floor((shard * this.h.size) / this.h.shards);
  }

  /** The worker with the lowest clock and that clock. */
  slowest(): [worker: number, clock: number] {
    let worker = 0;
    let clock = Atomics.load(this.control, CLOCKS);
    for (let w = 1; w < this.h.workers; w++) {
      const c = Atomics.load(this.control, CLOCKS + w);
      if (c < clock) {
        clock = c;
        worker = w;
      }
    }
    return [worker, clock];
  }

  lockShard(shard: number, who: number | 'driver', clock: number): void {
    if (lockCell(this.control, this.locks + shard, this.h.timeoutMs)) return;
    const name = who === 'driver' ? 'the driver' : `worker ${who}`;
    throw new ParameterServerTimeoutError(
      who,
      clock,
      this.h.mode,
      `parameter server (${this.label}): ${name} timed out after ${this.h.timeoutMs} ms at clock ${clock} ` +
        `waiting for the lock of shard ${shard}`,
      'a thread died or hung while holding it',
    );
  }

  unlockShard(shard: number): void {
    unlockCell(this.control, this.locks + shard);
  }
}

function validate(
  init: Float64Array,
  workers: number,
  consistency: Consistency,
  options: ParameterServerOptions,
) {
  const bad = (what: string, value: unknown, rule: string) =>
    new ParamError(`parameter server: ${what} must be ${rule}, got ${String(value)}`);
  if (!(init instanceof Float64Array) || init.length === 0) {
    throw bad('init', init instanceof Float64Array ? 'an empty array' : init, 'a non-empty Float64Array');
  }
  if (!Number.isInteger(workers) || workers < 1 || workers > 0xffff) {
    throw bad('workers', workers, 'an integer in [1, 65535]');
  }
  const mode = (consistency as { mode: unknown }).mode;
  if (mode !== 'bsp' && mode !== 'asp' && mode !== 'ssp')
    throw bad('consistency.mode', mode, "'bsp', 'asp' or 'ssp'");
  if (consistency.mode === 'ssp') {
    const s = consistency.staleness;
    if (!Number.isInteger(s) || s < 0 || s > 0xffff)
      throw bad('consistency.staleness', s, 'an integer in [0, 65535]');
  }
  const t = options.timeoutMs;
  if (t !== undefined && !(t > 0 && Number.isFinite(t)))
    throw bad("option 'timeoutMs'", t, 'a finite number > 0');
  const k = options.shards;
  if (k !== undefined && !(Number.isInteger(k) && k >= 1 && k <= init.length)) {
    throw bad("option 'shards'", k, `an integer in [1, ${init.length}] (the number of parameters)`);
  }
}

/** Driver side: creates the shared memory, reads the parameters and the counters. */
export class SharedParameterServer {
  /** Pass this to each worker (`workerData` or `postMessage`) to attach a {@link ParameterServerClient}. */
  readonly handle: ParameterServerHandle;
  private readonly v: Views;

  private constructor(handle: ParameterServerHandle) {
    this.handle = handle;
    this.v = new Views(handle);
  }

  /**
   * Creates a parameter server holding a copy of `init` for `workers` workers (ids 0..workers-1).
   *
   * @throws ParamError naming the bad argument or option
   */
  static create(
    init: Float64Array,
    workers: number,
    consistency: Consistency,
    options: ParameterServerOptions = {},
  ): SharedParameterServer {
    validate(init, workers, consistency, options);
    const n = init.length;
    const staleness =
      consistency.mode === 'ssp'
        ? consistency.staleness
        : consistency.mode === 'bsp'
          ? 0
          : Number.POSITIVE_INFINITY;
    const slots = consistency.mode === 'asp' ? 0 : staleness + 1;
    const shards = options.shards ?? Math.max(1, Math.min(workers, Math.ceil(n / 256)));
    const params = new SharedArrayBuffer(n * 8);
    new Float64Array(params).set(init);
    return new SharedParameterServer({
      mode: consistency.mode,
      staleness,
      size: n,
      workers,
      shards,
      slots,
      timeoutMs: options.timeoutMs ?? 30000,
      params,
      deltas: new SharedArrayBuffer(workers * slots * n * 8),
      control: new SharedArrayBuffer((CLOCKS + workers + slots + shards) * 4),
      stats: new SharedArrayBuffer(workers * STAT_FIELDS * 8),
    });
  }

  /**
   * A copy of the parameters as they are now. Under BSP and SSP each shard is read under its lock,
   * so no shard is seen half-applied; under ASP the copy may catch pushes in flight.
   *
   * @throws ParameterServerTimeoutError when a shard lock stays held past `timeoutMs`
   */
  snapshot(): Float64Array {
    const { params } = this.v;
    if (this.handle.mode === 'asp') return params.slice();
    const out = new Float64Array(this.handle.size);
    const clock = Atomics.load(this.v.control, APPLIED);
    for (let k = 0; k < this.handle.shards; k++) {
      const hi = this.v.start(k + 1);
      this.v.lockShard(k, 'driver', clock);
      for (let i = this.v.start(k); i < hi; i++) out[i] = params[i]!;
      this.v.unlockShard(k);
    }
    return out;
  }

  /**
   * Counters of the run so far. Exact once the workers have stopped; while they run, the figures
   * are a moment's reading of counters that keep moving.
   */
  stats(): ParameterServerStats {
    const { stats, control } = this.v;
    const W = this.handle.workers;
    const clocks: number[] = [];
    const maxStalenessByWorker: number[] = [];
    let sum = 0;
    let count = 0;
    let waits = 0;
    let waitSeconds = 0;
    let updates = 0;
    for (let w = 0; w < W; w++) {
      const row = w * STAT_FIELDS;
      clocks.push(Atomics.load(control, CLOCKS + w));
      maxStalenessByWorker.push(stats[row + ST_MAX]!);
      sum += stats[row + ST_SUM]!;
      count += stats[row + ST_COUNT]!;
      waits += stats[row + ST_WAITS]!;
      waitSeconds += stats[row + ST_WAIT_SECONDS]!;
      updates += stats[row + ST_PUSHES]!;
    }
    return {
      clocks,
      applied: Atomics.load(control, APPLIED),
      maxStalenessSeen: Math.max(...maxStalenessByWorker),
      maxStalenessByWorker,
      meanStaleness: count === 0 ? 0 : sum / count,
      waits,
      waitSeconds,
      updates,
    };
  }
}

/**
 * Worker side: one worker's connection to a {@link SharedParameterServer}. Each worker id must have
 * exactly one client. After a {@link ParameterServerTimeoutError} the server's clocks no longer
 * agree; abandon it rather than carry on.
 */
export class ParameterServerClient {
  private readonly v: Views;
  private readonly w: number;
  private readonly row: number;
  private clockNow: number;
  private readonly seen = { max: 0, sum: 0, count: 0 };

  /**
   * @param handle - the driver's {@link SharedParameterServer.handle}
   * @param worker - this worker's id, in [0, handle.workers)
   * @throws ParamError when `worker` is out of range or the handle's buffers do not match its sizes
   */
  constructor(handle: ParameterServerHandle, worker: number) {
    if (!Number.isInteger(worker) || worker < 0 || worker >= handle.workers) {
      throw new ParamError(
        `parameter server: worker must be an integer in [0, ${handle.workers}), got ${worker}`,
        'each worker thread attaches with its own id',
      );
    }
    this.v = new Views(handle);
    this.w = worker;
    this.row = worker * STAT_FIELDS;
    this.clockNow = Atomics.load(this.v.control, CLOCKS + worker);
  }

  /** The clock this worker is in: the number of times it has called `clock()`. */
  get currentClock(): number {
    return this.clockNow;
  }

  /** Staleness measured at this worker's pulls so far. */
  get staleness(): StalenessCounter {
    return { ...this.seen };
  }

  /**
   * Copies into `into` the parameters this worker may see now: under BSP every update through the
   * previous clock; under SSP(s) at least every update through clock (current − s − 1), and any
   * later clocks already applied; under ASP whatever is in memory, other workers' pushes included.
   * Records the staleness: this worker's clock minus the slowest worker's.
   */
  pull(into: Float64Array): void {
    const { params } = this.v;
    const n = this.v.h.size;
    if (into.length !== n)
      throw new RangeError(`pull: into has length ${into.length}, the server holds ${n}`);
    if (this.v.h.mode === 'asp') {
      // Hogwild reads race with other workers' pushes, by design.
      for (let i = 0; i < n; i++) into[i] = params[i]!;
    } else {
      for (let k = 0; k < this.v.h.shards; k++) {
        const hi = this.v.start(k + 1);
        this.v.lockShard(k, this.w, this.clockNow);
        for (let i = this.v.start(k); i < hi; i++) into[i] = params[i]!;
        this.v.unlockShard(k);
      }
    }
    const staleness = this.clockNow - this.v.slowest()[1];
    const { stats } = this.v;
    if (staleness > this.seen.max) this.seen.max = stats[this.row + ST_MAX] = staleness;
    this.seen.sum += staleness;
    this.seen.count++;
    stats[this.row + ST_SUM] = this.seen.sum;
    stats[this.row + ST_COUNT] = this.seen.count;
  }

  /**
   * Adds `delta` to the parameters. Under BSP and SSP the delta is held in this worker's buffer for
   * the current clock and reaches the parameters when the clock is applied (pushes within one clock
   * add up). Under ASP it is added in place at once, without a lock: two workers adding to the same
   * parameter at the same moment can lose one of the two additions (JavaScript has no atomic float
   * add). That race is the Hogwild bargain (Recht et al., 2011): SGD converges anyway when each
   * update is small, and no worker ever waits.
   */
  push(delta: Float64Array): void {
    const n = this.v.h.size;
    if (delta.length !== n)
      throw new RangeError(`push: delta has length ${delta.length}, the server holds ${n}`);
    const { h, params, deltas, stats } = this.v;
    if (h.mode === 'asp') {
      for (let i = 0; i < n; i++) params[i]! += delta[i]!;
    } else {
      // Only this worker writes this slot, and the applier reads it only after this worker's
      // arrival (an Atomics.add): the atomic orders these plain writes before that read.
      const base = (this.w * h.slots + (this.clockNow % h.slots)) * n;
      for (let i = 0; i < n; i++) deltas[base + i]! += delta[i]!;
    }
    stats[this.row + ST_PUSHES]!++;
  }

  /**
   * Ends this worker's current clock c. Under BSP and SSP, the last worker to end clock c applies
   * everyone's clock-c deltas; then this call waits until clock c − s is applied (c under BSP).
   * Under ASP it only advances the clock.
   *
   * @throws ParameterServerTimeoutError naming this worker, its clock, the mode and the slowest
   *   worker when a wait lasts longer than `timeoutMs`
   */
  clock(): void {
    const { h, control } = this.v;
    const c = this.clockNow;
    this.clockNow = c + 1;
    Atomics.store(control, CLOCKS + this.w, c + 1);
    if (h.mode === 'asp') return;
    const cell = this.v.arrive + (c % h.slots);
    if (Atomics.add(control, cell, 1) === h.workers - 1) {
      // Last to arrive. No one can arrive at this slot again before clock c is applied (that
      // would take a worker s + 1 clocks ahead), so the counter is free to reset now.
      Atomics.store(control, cell, 0);
      // Clocks are applied in order without waiting here: every worker has returned from its
      // clock() of c − 1 before arriving at c, and that clock's applier did so only after applying.
      this.apply(c);
      Atomics.store(control, APPLIED, c + 1);
      Atomics.notify(control, APPLIED);
    }
    this.awaitApplied(c + 1 - h.staleness, c);
  }

  /** Adds every worker's clock-c deltas to the parameters, in worker order, and clears them. */
  private apply(c: number): void {
    const { h, params, deltas } = this.v;
    const n = h.size;
    const slot = c % h.slots;
    for (let k = 0; k < h.shards; k++) {
      const lo = this.v.start(k);
      const hi = this.v.start(k + 1);
      this.v.lockShard(k, this.w, c);
      for (let w = 0; w < h.workers; w++) {
        const base = (w * h.slots + slot) * n;
        for (let i = lo; i < hi; i++) {
          params[i]! += deltas[base + i]!;
          deltas[base + i] = 0;
        }
      }
      this.v.unlockShard(k);
    }
  }

  /** Blocks until at least `target` clocks are applied; `c` is the clock being ended, for errors. */
  private awaitApplied(target: number, c: number): void {
    const { control, stats } = this.v;
    let applied = Atomics.load(control, APPLIED);
    if (applied >= target) return;
    const started = performance.now();
    const deadline = started + this.v.h.timeoutMs;
    while (applied < target) {
      const remaining = deadline - performance.now();
      if (remaining <= 0) throw this.timeout(target, c);
      Atomics.wait(control, APPLIED, applied, remaining);
      applied = Atomics.load(control, APPLIED);
    }
    stats[this.row + ST_WAITS]!++;
    stats[this.row + ST_WAIT_SECONDS]! += (performance.now() - started) / 1000;
  }

  private timeout(target: number, c: number): ParameterServerTimeoutError {
    const { h } = this.v;
    const [slow, slowClock] = this.v.slowest();
    return new ParameterServerTimeoutError(
      this.w,
      c,
      h.mode,
      `parameter server (${this.v.label}): worker ${this.w} timed out after ${h.timeoutMs} ms at the end of ` +
        `clock ${c}, waiting for clock ${target - 1} to be applied; the slowest worker is ${slow}, at clock ${slowClock}`,
      `worker ${slow} may have crashed, hung or stopped calling clock(); raise timeoutMs if it is only slow`,
    );
  }
}
