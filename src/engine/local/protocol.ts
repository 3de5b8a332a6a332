/**
 * Messages between the driver and its worker threads. Everything here is plain structured-clone
 * data: partitions travel as SharedArrayBuffers (shared, never copied), tasks as a kernel name
 * plus arguments, never code.
 */
import type { KernelArgs } from '../kernel-registry.ts';
import type { FaultSpec } from './faults.ts';
import type { ParameterServerHandle } from './parameter-server.ts';

/** One partition as a worker sees it: views over shared memory. */
export interface SharedPartition {
  readonly index: number;
  readonly rows: number;
  readonly cols: number;
  /** Row-major rows×cols float64 features, at byte offset `xOffset`. */
  readonly X: SharedArrayBuffer;
  readonly xOffset: number;
  /** rows float64 targets, at byte offset `yOffset`. */
  readonly y: SharedArrayBuffer;
  readonly yOffset: number;
}

/** Driver → worker. */
export type ToWorker =
  | { readonly type: 'place'; readonly placement: string; readonly parts: readonly SharedPartition[] }
  | { readonly type: 'release'; readonly placement: string }
  | { readonly type: 'broadcast'; readonly id: string; readonly data: SharedArrayBuffer }
  | {
      readonly type: 'task';
      /** Attempt id: unique per dispatch, so a late result is recognised and discarded. */
      readonly attempt: number;
      readonly kernel: string;
      readonly placement: string;
      readonly partition: number;
      readonly args: KernelArgs;
      readonly resultLength: number;
      /**
       * Where to write the result, `resultLength` float64s from offset 0; without it the thread
       * allocates the result itself. A caller that has a shared buffer for it saves a copy.
       */
      readonly out?: SharedArrayBuffer;
    }
  | {
      readonly type: 'loop';
      readonly attempt: number;
      readonly kernel: string;
      readonly placement: string;
      /** Partitions this worker loops over. */
      readonly partitions: readonly number[];
      readonly args: KernelArgs;
      readonly resultLength: number;
      readonly ps: ParameterServerHandle;
      /** This worker's index in the parameter server (0..W-1). */
      readonly worker: number;
    };

/** Worker → driver. */
export type FromWorker =
  | { readonly type: 'ready' }
  | {
      readonly type: 'result';
      readonly attempt: number;
      readonly result: Float64Array;
      readonly runSeconds: number;
    }
  | { readonly type: 'error'; readonly attempt: number; readonly message: string; readonly stack?: string };

/** What a worker thread is started with (its `workerData`). */
export interface WorkerInit {
  /** Slot index of this worker (0..workers-1); a replacement takes the slot of the worker it replaces. */
  readonly slot: number;
  /** Tasks this slot received before this thread started (a replacement continues the count). */
  readonly taskOffset: number;
  /** Faults still to fire in this slot. */
  readonly faults: readonly FaultSpec[];
}

/** `a` itself when it lives in shared memory, else a shared copy (what threads read in place). */
export function sharedView(a: Float64Array): Float64Array {
  if (a.buffer instanceof SharedArrayBuffer) return a;
  const copy = sharedFloat64(a.length);
  copy.set(a);
  return copy;
}

/** A zeroed float64 array of `length` in shared memory, which threads read in place. */
export function sharedFloat64(length: number): Float64Array {
  return new Float64Array(new SharedArrayBuffer(length * 8));
}

/** `bytes` zeroed bytes in shared memory of their own (offset 0, so float64 views are aligned). */
export function sharedBytes(bytes: number): Buffer {
  return Buffer.from(new SharedArrayBuffer(bytes));
}
