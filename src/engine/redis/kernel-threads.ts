/**
 * The task slots of a cluster worker (`distml worker --threads N`): it takes up to N tasks at once
 * and runs each task's kernel on a thread of its own, with the thread engine's machinery
 * (local/worker-pool.ts starts, restarts and messages the threads; local/worker-main.ts runs the
 * kernels there). Kernels are synchronous, so threads, not promises, are what runs them side by
 * side.
 *
 * A job takes the lowest free slot when it starts and keeps it to its end, and its kernel runs on
 * that slot's thread: slot i > 0 is only ever taken while slots 0 … i − 1 hold other jobs, so a
 * task counted on thread 1 ran while another was in flight on the same worker.
 *
 * Nothing is copied per task that does not have to be: partitions live in SharedArrayBuffers
 * (the worker allocates them there) and are placed once with every thread, which views them in
 * place; float64 arguments are moved into shared memory once per array (a pass's arguments are
 * one cached object for all its tasks), so posting a task shares them instead of cloning them;
 * a result comes back in shared memory too (see local/worker-main.ts for why not transferred).
 *
 * One slot runs on a thread too: measured as fast as the main thread (bench/
 * kernel-threads-overhead.ts: 500,000 × 50 gradient, 77.6 against 78.1 ms per task), and it
 * keeps the main thread free to renew the heartbeat and the task locks while a long kernel runs
 * (a kernel on the main thread blocks them: one longer than the heartbeat's TTL gets the worker
 * presumed dead). Without an entry module (a library caller that starts no threads) a single
 * slot runs kernels on the calling thread.
 */
import type { DesignMatrix } from '../../data/design-matrix.ts';
import { DistmlError, UsageError } from '../../errors.ts';
import { getKernel, type KernelArgs } from '../kernel-registry.ts';
import { sharedFloat64, sharedView } from '../local/protocol.ts';
import { WorkerPool } from '../local/worker-pool.ts';

/** Options of {@link startTaskSlots}. */
export interface TaskSlotsOptions {
  /** Tasks run at once, each kernel on a thread of its own. */
  readonly threads: number;
  /**
   * The thread entry module (pipeline/worker-entry, as the thread engine's); needed when
   * threads > 1. Without it, one slot runs kernels on the calling thread.
   */
  readonly entry: URL | undefined;
  /**
   * The worker's partition cache: a partition dropped from it is released from the threads at
   * the next placement, so the threads never keep alive what the worker has let go.
   */
  readonly held: ReadonlyMap<string, DesignMatrix>;
}

/** Where a worker's tasks run. */
export interface TaskSlots {
  readonly size: number;
  /**
   * Wraps a job processor: each job runs in a slot (waiting for one if all are taken), and an
   * object it returns gains `thread`, the slot's index.
   */
  serve<J extends object>(process: (job: J) => Promise<unknown>): (job: J) => Promise<unknown>;
  /** The slot (thread index) a job being served holds. */
  threadOf(job: object): number | undefined;
  /** Runs kernel `kernel` on `part` into `out` (zeroed), on the thread of `job`'s slot. */
  run(job: object, kernel: string, part: DesignMatrix, args: KernelArgs, out: Float64Array): Promise<void>;
  /** `part` in shared memory: itself if it is there already, else a copy to keep instead. */
  shareable(part: DesignMatrix): DesignMatrix;
  /**
   * A zeroed array in memory the slots' kernels read in place (shared memory with threads): a
   * partition built in it needs no copy from {@link shareable}.
   */
  allocate(length: number): Float64Array;
  /** Stops the threads (after the jobs have finished). */
  close(): Promise<void>;
}

/**
 * Starts the task slots; resolves once every thread has started.
 * @throws DistmlError when threads > 1 and there is no entry module, or the threads cannot start
 */
export async function startTaskSlots(options: TaskSlotsOptions): Promise<TaskSlots> {
  if (options.threads === 1 && options.entry === undefined) return inProcess;
  if (options.entry === undefined) {
    throw new UsageError(
      `threads: ${options.threads} needs the kernel thread entry module (pipeline/worker-entry)`,
      'start workers with `distml worker`, or pass kernelEntry',
    );
  }
  const slots = new KernelThreads(options.threads, options.entry, options.held);
  await slots.ready;
  return slots;
}

/** One slot, on the calling thread: the worker as it ran before it had threads. */
const inProcess: TaskSlots = {
  size: 1,
  serve: (process) => async (job) => withThread(await process(job), 0),
  threadOf: () => 0,
  async run(_job, kernel, part, args, out) {
    getKernel(kernel).run(part, args, out);
  },
  shareable: (part) => part,
  allocate: (length) => new Float64Array(length),
  close: async () => {},
};

/** `value` with `thread` added, when it is a plain answer object. */
function withThread(value: unknown, thread: number): unknown {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return value;
  return { ...value, thread };
}

interface Pending {
  readonly attempt: number;
  readonly out: Float64Array;
  /** Whether the thread writes into `out` (shared memory from offset 0) rather than a buffer of its own. */
  readonly inPlace: boolean;
  resolve(): void;
  reject(err: Error): void;
}

/** N slots, a kernel thread each. */
class KernelThreads implements TaskSlots {
  readonly ready: Promise<void>;
  private readonly pool: WorkerPool;
  private readonly busy: boolean[];
  private readonly waiters: Array<(slot: number) => void> = [];
  private readonly slotOf = new WeakMap<object, number>();
  /** The kernel in flight on each slot's thread. */
  private readonly pending: (Pending | undefined)[];
  /** Placement ids of the partitions the threads hold, and the partitions by id. */
  private readonly placed = new WeakMap<DesignMatrix, string>();
  private readonly placedById = new Map<string, DesignMatrix>();
  /** Shared copies of argument arrays, by the array they copy (kept while the worker caches it). */
  private readonly sharedArgs = new WeakMap<Float64Array, Float64Array>();
  /** Runs waiting for a slot's replacement thread to start (after a crash). */
  private readonly restarting: Array<() => void> = [];
  private nextPlacement = 0;
  private nextAttempt = 0;
  private broken: string | undefined;

  constructor(
    readonly size: number,
    entry: URL,
    private readonly held: ReadonlyMap<string, DesignMatrix>,
  ) {
    this.busy = new Array<boolean>(size).fill(false);
    this.pending = new Array<Pending | undefined>(size).fill(undefined);
    let fail: (err: Error) => void = () => {};
    const broken = new Promise<never>((_, reject) => {
      fail = reject;
    });
    this.pool = new WorkerPool(
      { size, entry },
      {
        onMessage: (slot, message) => {
          const p = this.pending[slot];
          if (p === undefined || p.attempt !== message.attempt) return;
          this.pending[slot] = undefined;
          this.pool.free(slot);
          if (message.type === 'result') {
            // A result the thread wrote into `out` itself is there already.
            if (!p.inPlace) p.out.set(message.result);
            p.resolve();
          } else p.reject(new DistmlError('KERNEL', message.message));
        },
        onWorkerLost: (slot, _attempt, reason) => {
          const p = this.pending[slot];
          this.pending[slot] = undefined;
          // The pool is starting a replacement in the same slot; the task fails and BullMQ retries it.
          p?.reject(new DistmlError('KERNEL', `the kernel thread of slot ${slot} was lost: ${reason}`));
        },
        onReady: () => {
          for (const wake of this.restarting.splice(0)) wake();
        },
        onBroken: (reason) => {
          this.broken = reason;
          for (const p of this.pending)
            p?.reject(new DistmlError('KERNEL', `kernel threads broken: ${reason}`));
          this.pending.fill(undefined);
          for (const wake of this.restarting.splice(0)) wake();
          fail(new DistmlError('KERNEL', `the kernel threads cannot start: ${reason}`));
        },
      },
    );
    this.ready = Promise.race([this.pool.whenReady(), broken]);
    this.ready.catch(() => {});
  }

  serve<J extends object>(process: (job: J) => Promise<unknown>): (job: J) => Promise<unknown> {
    return async (job) => {
      const slot = await this.acquire();
      this.slotOf.set(job, slot);
      try {
        return withThread(await process(job), slot);
      } finally {
        this.slotOf.delete(job);
        this.release(slot);
      }
    };
  }

  threadOf(job: object): number | undefined {
    return this.slotOf.get(job);
  }

  async run(
    job: object,
    kernel: string,
    part: DesignMatrix,
    args: KernelArgs,
    out: Float64Array,
  ): Promise<void> {
    const slot = this.slotOf.get(job);
    if (slot === undefined) throw new Error('KernelThreads.run: the job was not given a slot by serve()');
    // A slot whose thread crashed gets a new one, which must have the partitions placed again
    // (the pool does it when the thread is ready) before it is given a task.
    while (!this.pool.idle(slot) && this.broken === undefined)
      await new Promise<void>((wake) => this.restarting.push(wake));
    if (this.broken !== undefined)
      throw new DistmlError('KERNEL', `the kernel threads cannot start: ${this.broken}`);
    this.prune();
    const placement = this.place(part);
    const attempt = ++this.nextAttempt;
    const inPlace = out.buffer instanceof SharedArrayBuffer && out.byteOffset === 0;
    return new Promise<void>((resolve, reject) => {
      this.pending[slot] = { attempt, out, inPlace, resolve, reject };
      this.pool.dispatch(slot, {
        type: 'task',
        attempt,
        kernel,
        placement,
        partition: 0,
        args: this.sharedArgsOf(args),
        resultLength: out.length,
        ...(inPlace ? { out: out.buffer as SharedArrayBuffer } : {}),
      });
    });
  }

  shareable(part: DesignMatrix): DesignMatrix {
    if (part.X.buffer instanceof SharedArrayBuffer && part.y.buffer instanceof SharedArrayBuffer) return part;
    return { rows: part.rows, cols: part.cols, X: sharedView(part.X), y: sharedView(part.y) };
  }

  allocate(length: number): Float64Array {
    return sharedFloat64(length);
  }

  async close(): Promise<void> {
    await this.pool.close();
  }

  private acquire(): Promise<number> {
    const free = this.busy.indexOf(false);
    if (free >= 0) {
      this.busy[free] = true;
      return Promise.resolve(free);
    }
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private release(slot: number): void {
    const next = this.waiters.shift();
    if (next !== undefined) next(slot);
    else this.busy[slot] = false;
  }

  /** The placement id under which every thread holds `part`, placing it first if needed. */
  private place(part: DesignMatrix): string {
    const known = this.placed.get(part);
    if (known !== undefined) return known;
    const shared = this.shareable(part);
    const id = `k${++this.nextPlacement}`;
    this.pool.place(id, [
      {
        index: 0,
        rows: shared.rows,
        cols: shared.cols,
        X: shared.X.buffer as SharedArrayBuffer,
        xOffset: shared.X.byteOffset,
        y: shared.y.buffer as SharedArrayBuffer,
        yOffset: shared.y.byteOffset,
      },
    ]);
    this.placed.set(part, id);
    this.placedById.set(id, part);
    return id;
  }

  /**
   * Releases the partitions the worker no longer holds. Called before placing, so a partition
   * placed for a task is released only after that task's message (a thread reads its messages in
   * order).
   */
  private prune(): void {
    const kept = new Set(this.held.values());
    for (const [id, part] of this.placedById) {
      if (kept.has(part)) continue;
      this.pool.release(id);
      this.placedById.delete(id);
      this.placed.delete(part);
    }
  }

  /** `args` with every float64 array in shared memory, each array moved there once. */
  private sharedArgsOf(args: KernelArgs): KernelArgs {
    let out: Record<string, KernelArgs[string]> | undefined;
    for (const [key, value] of Object.entries(args)) {
      if (!(value instanceof Float64Array) || value.buffer instanceof SharedArrayBuffer) continue;
      let shared = this.sharedArgs.get(value);
      if (shared === undefined) {
        shared = sharedView(value);
        this.sharedArgs.set(value, shared);
      }
      out ??= { ...args };
      out[key] = shared;
    }
    return out ?? args;
  }
}
