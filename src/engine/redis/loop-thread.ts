/**
 * The thread a cluster worker runs a loop kernel on. Loop kernels are synchronous (`pull`, `push`
 * and `clock` return when done, which keeps the thread engine's hot path free of promises), while
 * Redis is asynchronous. So the kernel runs here, and its {@link ParameterClient} posts each call
 * to the process's main thread and blocks on `Atomics.wait` over a SharedArrayBuffer; the main
 * thread (loop-slot.ts) does the Redis calls, writes a pull's parameters into shared memory and
 * `Atomics.notify`s. Errors travel back on a MessagePort read with `receiveMessageOnPort`.
 *
 * This module imports no kernel: the entry module that starts the thread (in `pipeline/`, above
 * `models/`) imports every kernel module first, then calls {@link runLoopThread}.
 */
import { type MessagePort, parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import type { DesignMatrix } from '../../data/design-matrix.ts';
import { DistmlError } from '../../errors.ts';
import { getLoopKernel, type KernelArgs, type ParameterClient } from '../kernel-registry.ts';

/** Cells of the control array. */
export const SEQ = 0;
export const STATUS = 1;
export const CONTROL_CELLS = 2;

/** What the main thread starts a loop thread with (its `workerData`). */
export interface LoopThreadInit {
  readonly kernel: string;
  readonly args: KernelArgs;
  readonly parts: readonly DesignMatrix[];
  readonly slot: number;
  readonly size: number;
  readonly resultLength: number;
  /** true under ASP: pushes and clocks are posted without waiting. */
  readonly async: boolean;
  /** Int32 cells: SEQ (bumped by each answer), STATUS (0 ok, 1 failed). */
  readonly control: SharedArrayBuffer;
  /** `size` float64: a pull's parameters. */
  readonly data: SharedArrayBuffer;
  /** Where failed answers carry their message. */
  readonly errors: MessagePort;
  /** Longest wait for one answer; the main thread enforces the parameter server's own timeouts. */
  readonly waitMs: number;
}

/** Thread → main thread. */
export type LoopRequest =
  | { readonly op: 'pull' }
  /** BSP/SSP: end the clock with this clock's summed pushes (null: none); answered. ASP: not answered. */
  | { readonly op: 'clock'; readonly delta: Float64Array | null }
  /** ASP only: add now; not answered. */
  | { readonly op: 'push'; readonly delta: Float64Array }
  | { readonly op: 'done'; readonly out: Float64Array; readonly seconds: number }
  | { readonly op: 'failed'; readonly message: string; readonly stack?: string };

/** Runs the loop kernel `workerData` names, then reports its result and ends. */
export function runLoopThread(): void {
  const port = parentPort;
  if (port === null) throw new Error('runLoopThread() must run in a worker thread');
  const init = workerData as LoopThreadInit;
  const control = new Int32Array(init.control);
  const data = new Float64Array(init.data);
  const post = (request: LoopRequest, transfer: ArrayBuffer[] = []) => port.postMessage(request, transfer);
  /** Posts `request` and blocks until the main thread has answered it. */
  const call = (request: LoopRequest): void => {
    const seq = Atomics.load(control, SEQ);
    post(request);
    if (Atomics.wait(control, SEQ, seq, init.waitMs) === 'timed-out') {
      throw new DistmlError(
        'KERNEL',
        `loop slot ${init.slot}: the worker process did not answer a '${request.op}' within ${init.waitMs} ms`,
      );
    }
    if (Atomics.load(control, STATUS) !== 0) {
      const message = receiveMessageOnPort(init.errors)?.message as string | undefined;
      throw new DistmlError('KERNEL', message ?? `loop slot ${init.slot}: '${request.op}' failed`);
    }
  };
  // Pushes within a clock add up before they are sent (they reach the parameters only when the
  // clock is applied): one message per clock, and the same sums as the thread engine's buffers.
  const pending = new Float64Array(init.async ? 0 : init.size);
  let pushed = false;
  const client: ParameterClient = {
    pull(into) {
      if (into.length !== init.size)
        throw new RangeError(`pull: into has length ${into.length}, the server holds ${init.size}`);
      call({ op: 'pull' });
      into.set(data);
    },
    push(delta) {
      if (delta.length !== init.size)
        throw new RangeError(`push: delta has length ${delta.length}, the server holds ${init.size}`);
      if (init.async) {
        post({ op: 'push', delta: delta.slice() });
        return;
      }
      for (let i = 0; i < delta.length; i++) pending[i]! += delta[i]!;
      pushed = true;
    },
    clock() {
      if (init.async) {
        post({ op: 'clock', delta: null });
        return;
      }
      const delta = pushed ? pending.slice() : null;
      pending.fill(0);
      pushed = false;
      call({ op: 'clock', delta });
    },
  };
  const started = performance.now();
  try {
    const out = new Float64Array(init.resultLength);
    getLoopKernel(init.kernel).run(init.parts, init.args, client, init.slot, out);
    post({ op: 'done', out, seconds: (performance.now() - started) / 1000 }, [out.buffer]);
  } catch (err) {
    const e = err instanceof Error ? err : new Error(String(err));
    post({ op: 'failed', message: e.message, ...(e.stack === undefined ? {} : { stack: e.stack }) });
  }
}
