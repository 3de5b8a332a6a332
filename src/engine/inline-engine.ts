/**
 * The serial engine: every kernel runs on the caller's thread, partition after partition. It is the
 * reference the parallel engines must agree with, and the right choice for small data.
 */
import { blockRanges, type DesignMatrix, sliceRows } from '../data/design-matrix.ts';
import { DistmlError } from '../errors.ts';
import type {
  Consistency,
  DistributedMatrix,
  Engine,
  EngineTelemetry,
  Layout,
  LoopResult,
  TaskHandle,
  TaskSpec,
} from './engine.ts';
import { afterDependencies, treeCombine } from './engine.ts';
import {
  type BroadcastHandle,
  getKernel,
  getLoopKernel,
  type KernelArgs,
  resolveBroadcasts,
} from './kernel-registry.ts';
import { ParameterServerClient, SharedParameterServer } from './local/parameter-server.ts';

interface Placement extends DistributedMatrix {
  readonly parts: DesignMatrix[];
}

/** Runs every task on the calling thread. */
export class InlineEngine implements Engine {
  readonly kind = 'inline' as const;
  readonly workers = 1;
  private readonly placements = new Map<string, Placement>();
  private nextId = 0;
  private readonly broadcasts = new Map<string, Float64Array>();
  private nextTask = 1;
  private tasks = 0;
  private passes = 0;
  private kernelSeconds = 0;
  private closed = false;

  allocate(length: number): Float64Array {
    return new Float64Array(length);
  }

  async distribute(data: DesignMatrix, layout: Layout = {}): Promise<DistributedMatrix> {
    this.checkOpen();
    const parts = blockRanges(data.rows, layout.partitions ?? 1).map(([s, e]) => sliceRows(data, s, e));
    const placement: Placement = {
      id: `inline-${this.nextId++}`,
      rows: data.rows,
      cols: data.cols,
      partitions: parts.length,
      parts,
    };
    this.placements.set(placement.id, placement);
    return placement;
  }

  async treeReduce(kernelName: string, on: DistributedMatrix, args: KernelArgs): Promise<Float64Array> {
    this.checkOpen();
    const placement = this.placementOf(on);
    const kernel = getKernel(kernelName);
    const length = kernel.resultLength(args, on.cols);
    const started = performance.now();
    const resolved = resolveBroadcasts(args, (id) => this.broadcasts.get(id));
    const results = placement.parts.map((part) => {
      const out = new Float64Array(length);
      kernel.run(part, resolved, out);
      return out;
    });
    this.kernelSeconds += (performance.now() - started) / 1000;
    this.tasks += results.length;
    this.passes++;
    return treeCombine(results, kernel.combine);
  }

  async broadcast(value: Float64Array): Promise<BroadcastHandle> {
    const id = `inline-broadcast-${this.nextId++}`;
    this.broadcasts.set(id, Float64Array.from(value));
    return { broadcast: id, length: value.length };
  }

  submit(task: TaskSpec): TaskHandle {
    const id = this.nextTask++;
    const result = afterDependencies(id, task.after).then(() => {
      this.checkOpen();
      const placement = this.placements.get(task.on.id);
      const part = placement?.parts[task.partition];
      if (part === undefined)
        throw new DistmlError('KERNEL', `no partition ${task.partition} in placement '${task.on.id}'`);
      const kernel = getKernel(task.kernel);
      const out = new Float64Array(kernel.resultLength(task.args, task.on.cols));
      const started = performance.now();
      kernel.run(
        part,
        resolveBroadcasts(task.args, (id) => this.broadcasts.get(id)),
        out,
      );
      this.kernelSeconds += (performance.now() - started) / 1000;
      this.tasks++;
      return out;
    });
    return { id, result };
  }

  /** Runs the loop on the calling thread as the only worker: every consistency mode is exact here. */
  async runLoop(
    kernelName: string,
    on: DistributedMatrix,
    args: KernelArgs,
    init: Float64Array,
    consistency: Consistency,
    options: { readonly timeoutMs?: number } = {},
  ): Promise<LoopResult> {
    this.checkOpen();
    const placement = this.placementOf(on);
    const kernel = getLoopKernel(kernelName);
    const ps = SharedParameterServer.create(init, 1, consistency, options);
    const out = new Float64Array(kernel.resultLength(args, on.cols));
    const started = performance.now();
    kernel.run(
      placement.parts,
      resolveBroadcasts(args, (id) => this.broadcasts.get(id)),
      new ParameterServerClient(ps.handle, 0),
      0,
      out,
    );
    this.kernelSeconds += (performance.now() - started) / 1000;
    this.tasks++;
    const stats = ps.stats();
    return {
      params: ps.snapshot(),
      perWorker: [out],
      staleness: { max: stats.maxStalenessSeen, mean: stats.meanStaleness },
      workers: 1,
    };
  }

  /** Ignored: results are ordinary arrays, not taken from a pool. */
  recycle(_result: Float64Array): void {}

  async release(on: DistributedMatrix): Promise<void> {
    this.placements.delete(on.id);
  }

  telemetry(): EngineTelemetry {
    return {
      kind: this.kind,
      workers: this.workers,
      tasks: this.tasks,
      passes: this.passes,
      kernelSeconds: this.kernelSeconds,
    };
  }

  async close(): Promise<void> {
    this.placements.clear();
    this.closed = true;
  }

  private placementOf(on: DistributedMatrix): Placement {
    const placement = this.placements.get(on.id);
    if (placement === undefined) throw new DistmlError('KERNEL', `unknown or released placement '${on.id}'`);
    return placement;
  }

  private checkOpen(): void {
    if (this.closed) throw new DistmlError('KERNEL', 'this engine is closed');
  }
}
