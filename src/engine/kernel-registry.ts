/**
 * Work that runs on partitions is done by named kernels. A task names its kernel and carries plain
 * arguments, never code, so the same task can run inline, on a worker thread or in a worker
 * process of a cluster: each of them imports the same kernel modules and looks the name up here.
 */

import type { DesignMatrix } from '../data/design-matrix.ts';
import { DistmlError, didYouMean } from '../errors.ts';

/** A value shared once with every worker by `engine.broadcast`, referenced from kernel arguments. */
export interface BroadcastHandle {
  readonly broadcast: string;
  readonly length: number;
}

/**
 * Arguments a task passes to a kernel: numbers, flags, words, float64 vectors, and broadcast
 * handles (which a kernel receives already resolved to the broadcast Float64Array).
 */
export type KernelArgs = Readonly<Record<string, number | boolean | string | Float64Array | BroadcastHandle>>;

/** Whether an argument value is a broadcast handle. */
export function isBroadcast(v: unknown): v is BroadcastHandle {
  return typeof v === 'object' && v !== null && typeof (v as BroadcastHandle).broadcast === 'string';
}

/** `args` with every broadcast handle replaced by its value from `lookup`. */
export function resolveBroadcasts(
  args: KernelArgs,
  lookup: (id: string) => Float64Array | undefined,
): KernelArgs {
  let out: Record<string, KernelArgs[string]> | undefined;
  for (const [key, value] of Object.entries(args)) {
    if (!isBroadcast(value)) continue;
    const data = lookup(value.broadcast);
    if (data === undefined)
      throw new DistmlError(
        'KERNEL',
        `argument '${key}' names broadcast '${value.broadcast}', which is not (or no longer) shared`,
      );
    out ??= { ...args };
    out[key] = data;
  }
  return out ?? args;
}

/**
 * Folds partition result `b` into `a` in place, for results that do not combine element by element
 * (the R factors of a tall-skinny QR). It runs on the driver in the same fixed tree order as the
 * built-in combines, so it must be deterministic; it may overwrite `b`.
 */
export type CombineFunction = (a: Float64Array, b: Float64Array) => void;

/** How the results of a pass's partitions are combined: element by element, or by the kernel's own fold. */
export type Combine = 'sum' | 'max' | CombineFunction;

/**
 * A kernel computes a float64 vector from one partition. Results of the partitions of one pass are
 * combined by the engine (summed by default, so a kernel returns sums of losses, gradients or Gram
 * entries, not means; or their maximum, for ranges and norms; or folded by a {@link CombineFunction}
 * the kernel module declares, which every engine calls on the driver).
 */
export interface Kernel {
  /** Registry name, `<family>.<operation>`. */
  readonly name: string;
  /** @defaultValue `'sum'` */
  readonly combine?: Combine;
  /** Length of the result vector for these arguments and this partition width. */
  resultLength(args: KernelArgs, cols: number): number;
  /** Adds this partition's contribution into `out` (zeroed by the caller). */
  run(part: DesignMatrix, args: KernelArgs, out: Float64Array): void;
}

const registry = new Map<string, Kernel>();

/** Registers a kernel. @throws DistmlError (KERNEL) when the name is taken */
export function registerKernel(kernel: Kernel): Kernel {
  if (registry.has(kernel.name)) {
    throw new DistmlError(
      'KERNEL',
      `kernel '${kernel.name}' is registered twice`,
      'kernel names must be unique',
    );
  }
  registry.set(kernel.name, kernel);
  return kernel;
}

/** The kernel registered under `name`. @throws DistmlError (KERNEL) naming the known kernels */
export function getKernel(name: string): Kernel {
  const k = registry.get(name);
  if (k === undefined) {
    const known = [...registry.keys()].sort();
    throw new DistmlError(
      'KERNEL',
      `unknown kernel '${name}' (registered: ${known.join(', ') || 'none'})`,
      didYouMean(name, known) ?? 'kernels register when src/models/kernels.ts is imported',
    );
  }
  return k;
}

/** Names of all registered kernels, sorted. */
export function kernelNames(): string[] {
  return [...registry.keys()].sort();
}

/** What a loop kernel sees of the parameter server: its own client (see local/parameter-server.ts). */
export interface ParameterClient {
  /** Reads the parameters this worker may see now. */
  pull(into: Float64Array): void;
  /** Adds `delta` to the parameters, as the consistency mode prescribes. */
  push(delta: Float64Array): void;
  /** Ends this worker's step; waits as the consistency mode requires. */
  clock(): void;
}

/**
 * A loop kernel runs once per worker, over all the partitions placed with that worker, for many
 * steps: each step pulls parameters, computes an update from a minibatch, pushes it and clocks.
 * SGD-family training runs this way against the parameter server.
 */
export interface LoopKernel {
  readonly name: string;
  /** Length of the per-worker result (e.g. loss sums, rows seen). */
  resultLength(args: KernelArgs, cols: number): number;
  run(
    parts: readonly DesignMatrix[],
    args: KernelArgs,
    ps: ParameterClient,
    worker: number,
    out: Float64Array,
  ): void;
}

const loopRegistry = new Map<string, LoopKernel>();

/** Registers a loop kernel. @throws DistmlError (KERNEL) when the name is taken */
export function registerLoopKernel(kernel: LoopKernel): LoopKernel {
  if (loopRegistry.has(kernel.name) || registry.has(kernel.name)) {
    throw new DistmlError(
      'KERNEL',
      `kernel '${kernel.name}' is registered twice`,
      'kernel names must be unique',
    );
  }
  loopRegistry.set(kernel.name, kernel);
  return kernel;
}

/** Whether `name` is a registered loop kernel (rather than a partition kernel). */
export function hasLoopKernel(name: string): boolean {
  return loopRegistry.has(name);
}

/** The loop kernel registered under `name`. @throws DistmlError (KERNEL) naming the known ones */
export function getLoopKernel(name: string): LoopKernel {
  const k = loopRegistry.get(name);
  if (k === undefined) {
    const known = [...loopRegistry.keys()].sort();
    throw new DistmlError(
      'KERNEL',
      `unknown loop kernel '${name}' (registered: ${known.join(', ') || 'none'})`,
      didYouMean(name, known) ?? 'loop kernels register when src/models/kernels.ts is imported',
    );
  }
  return k;
}
