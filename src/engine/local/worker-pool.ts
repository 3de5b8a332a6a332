/**
 * A fixed set of worker-thread slots. Each slot runs one task at a time; a worker that exits,
 * crashes, runs out of memory or overruns its task's timeout is replaced in the same slot, and the
 * new thread is given every placement again (the partitions live in shared memory on the driver,
 * so nothing has to be rebuilt).
 */
import { Worker } from 'node:worker_threads';
import type { FaultSpec } from './faults.ts';
import type { FromWorker, SharedPartition, ToWorker, WorkerInit } from './protocol.ts';

/** What the pool reports to its owner. */
export interface PoolEvents {
  /** A worker answered a task (result or kernel error). */
  onMessage(slot: number, message: Exclude<FromWorker, { type: 'ready' }>): void;
  /** A worker died; `attempt` was in flight on it (if any). The slot is being restarted. */
  onWorkerLost(slot: number, attempt: number | undefined, reason: string): void;
  /** A slot became ready for work (first start or after a restart). */
  onReady(slot: number): void;
  /** Workers cannot start at all (a broken entry module): no task can ever run. */
  onBroken(reason: string): void;
}

const MAX_FAILED_STARTS = 3;

/**
 * How to start a worker on `entry`. A built entry (.js) starts directly. A TypeScript entry (when
 * distml runs from source under tsx, as in its own tests) needs tsx's loader registered inside the
 * thread first: on Node 20 worker threads do not inherit `--import tsx`.
 */
export function workerScript(entry: URL): [string | URL, { eval?: boolean }] {
  if (!entry.pathname.endsWith('.ts')) return [entry, {}];
  const tsx = import.meta.resolve('tsx/esm/api');
  const code = `import(${JSON.stringify(tsx)}).then((t) => { t.register(); return import(${JSON.stringify(entry.href)}); })`;
  return [code, { eval: true }];
}

/** Options of {@link WorkerPool}. */
export interface WorkerPoolOptions {
  readonly size: number;
  /** Module that imports every kernel module and calls runWorker(). */
  readonly entry: URL;
  readonly faults?: readonly FaultSpec[];
  /** Heap limit of each worker thread in MB (its OOM kills only that thread). */
  readonly maxHeapMb?: number;
}

interface Slot {
  worker: Worker | null;
  ready: boolean;
  /** Starts in a row that died before becoming ready: a broken entry module, not a fault. */
  failedStarts: number;
  /** Attempt id in flight, if any. */
  attempt: number | undefined;
  /** Tasks sent to this slot over its lifetime, so a replacement continues the count. */
  tasksSent: number;
  restarts: number;
}

/** Worker threads in numbered slots. */
export class WorkerPool {
  private readonly slots: Slot[] = [];
  private readonly placements = new Map<string, readonly SharedPartition[]>();
  private readonly broadcasts = new Map<string, SharedArrayBuffer>();
  private closed = false;
  private readonly readyWaiters: Array<() => void> = [];

  constructor(
    private readonly options: WorkerPoolOptions,
    private readonly events: PoolEvents,
  ) {
    for (let i = 0; i < options.size; i++) {
      this.slots.push({
        worker: null,
        ready: false,
        failedStarts: 0,
        attempt: undefined,
        tasksSent: 0,
        restarts: 0,
      });
      this.start(i);
    }
  }

  get size(): number {
    return this.slots.length;
  }

  /** Resolves once every slot has a started thread (so start-up is not counted as pass time). */
  whenReady(): Promise<void> {
    if (this.slots.every((s) => s.ready)) return Promise.resolve();
    return new Promise((resolve) => this.readyWaiters.push(resolve));
  }

  /** Whether slot `i` can take a task now. */
  idle(i: number): boolean {
    const s = this.slots[i]!;
    return s.ready && s.attempt === undefined;
  }

  /** Worker restarts so far, per slot. */
  restarts(): number[] {
    return this.slots.map((s) => s.restarts);
  }

  /** Sends a task to an idle slot. */
  dispatch(i: number, message: Extract<ToWorker, { type: 'task' | 'loop' }>): void {
    const s = this.slots[i]!;
    s.attempt = message.attempt;
    s.tasksSent++;
    s.worker!.postMessage(message);
  }

  /** Marks slot `i` free again after its answer arrived. */
  free(i: number): void {
    this.slots[i]!.attempt = undefined;
  }

  /** Shares a placement's partitions with every worker, now and after restarts. */
  place(placement: string, parts: readonly SharedPartition[]): void {
    this.placements.set(placement, parts);
    for (const s of this.slots) s.worker?.postMessage({ type: 'place', placement, parts } satisfies ToWorker);
  }

  /** Shares a read-only value with every worker, now and after restarts. */
  broadcast(id: string, data: SharedArrayBuffer): void {
    this.broadcasts.set(id, data);
    for (const s of this.slots) s.worker?.postMessage({ type: 'broadcast', id, data } satisfies ToWorker);
  }

  release(placement: string): void {
    this.placements.delete(placement);
    for (const s of this.slots) s.worker?.postMessage({ type: 'release', placement } satisfies ToWorker);
  }

  /** Kills slot `i`'s thread (it overran its timeout); the exit handler restarts it. */
  kill(i: number): void {
    void this.slots[i]!.worker?.terminate();
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.slots.map((s) => s.worker?.terminate()));
  }

  private start(i: number): void {
    const slot = this.slots[i]!;
    const init: WorkerInit = {
      slot: i,
      taskOffset: slot.tasksSent,
      // Faults at task numbers already passed have fired (or been skipped); never repeat them.
      faults: (this.options.faults ?? []).filter((f) => f.worker === i && f.task > slot.tasksSent),
    };
    const [script, how] = workerScript(this.options.entry);
    const worker = new Worker(script, {
      ...how,
      workerData: init,
      ...(this.options.maxHeapMb === undefined
        ? {}
        : { resourceLimits: { maxOldGenerationSizeMb: this.options.maxHeapMb } }),
    });
    slot.worker = worker;
    slot.ready = false;
    let lostReason: string | undefined;
    worker.on('message', (message: FromWorker) => {
      if (message.type === 'ready') {
        for (const [placement, parts] of this.placements)
          worker.postMessage({ type: 'place', placement, parts } satisfies ToWorker);
        slot.ready = true;
        slot.failedStarts = 0;
        if (this.slots.every((x) => x.ready)) for (const wake of this.readyWaiters.splice(0)) wake();
        this.events.onReady(i);
        return;
      }
      this.events.onMessage(i, message);
    });
    worker.on('error', (err) => {
      lostReason = `worker ${i} crashed: ${err.message}`;
    });
    worker.on('exit', (code) => {
      if (slot.worker !== worker) return;
      slot.worker = null;
      const wasReady = slot.ready;
      slot.ready = false;
      if (this.closed) return;
      const attempt = slot.attempt;
      slot.attempt = undefined;
      slot.restarts++;
      const reason = lostReason ?? `worker ${i} exited with code ${code}`;
      if (!wasReady && attempt === undefined && ++slot.failedStarts >= MAX_FAILED_STARTS) {
        this.events.onBroken(
          `worker ${i} failed to start ${slot.failedStarts} times in a row; last: ${reason}`,
        );
        return;
      }
      this.start(i);
      this.events.onWorkerLost(i, attempt, reason);
    });
  }
}
