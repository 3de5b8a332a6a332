/**
 * The body of a worker thread: holds views of the partitions placed on it and runs named kernels
 * on them. The entry module that starts a worker imports every kernel module first (so the
 * registry is complete), then calls {@link runWorker}.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { DesignMatrix } from '../../data/design-matrix.ts';
import { getKernel, getLoopKernel, type KernelArgs, resolveBroadcasts } from '../kernel-registry.ts';
import { faultAt, slowdownAt } from './faults.ts';
import { ParameterServerClient } from './parameter-server.ts';
import type { FromWorker, ToWorker, WorkerInit } from './protocol.ts';

/** Serves tasks until the driver terminates this thread. */
export function runWorker(): void {
  const port = parentPort;
  if (port === null) throw new Error('runWorker() must run in a worker thread');
  const init = workerData as WorkerInit;
  const placements = new Map<string, DesignMatrix[]>();
  const broadcasts = new Map<string, Float64Array>();
  const resolve = (args: KernelArgs) => resolveBroadcasts(args, (id) => broadcasts.get(id));
  const partitionOf = (placement: string, index: number): DesignMatrix => {
    const part = placements.get(placement)?.[index];
    if (part === undefined) throw new Error(`partition ${index} of ${placement} is not placed here`);
    return part;
  };
  /**
   * Runs `work` into the caller's shared result buffer, or a fresh one, and answers with it
   * (shared, not copied) or with its error. The buffer is a SharedArrayBuffer rather than an ArrayBuffer transferred away: the
   * first ArrayBuffer an isolate detaches (a transfer does) makes V8 check every typed-array
   * access of its optimized code for detachment from then on, and the kernels of this thread ran
   * 25–35 % slower for it (bench/kernel-threads-overhead.ts: 500,000 × 50 gradient, 77 against
   * 102 ms per task on the calling thread and here before; the same after).
   */
  const reply = (
    attempt: number,
    work: (out: Float64Array) => void,
    resultLength: number,
    into?: SharedArrayBuffer,
  ): void => {
    const started = performance.now();
    try {
      const out = new Float64Array(into ?? new SharedArrayBuffer(resultLength * 8), 0, resultLength);
      work(out);
      const runSeconds = (performance.now() - started) / 1000;
      port.postMessage({ type: 'result', attempt, result: out, runSeconds } satisfies FromWorker);
    } catch (err) {
      const e = err instanceof Error ? err : new Error(String(err));
      send({ type: 'error', attempt, message: e.message, ...(e.stack ? { stack: e.stack } : {}) });
    }
  };
  let tasksSeen = init.taskOffset;
  const send = (message: FromWorker) => port.postMessage(message);

  port.on('message', (message: ToWorker) => {
    if (message.type === 'place') {
      placements.set(
        message.placement,
        message.parts.map((p) => ({
          rows: p.rows,
          cols: p.cols,
          X: new Float64Array(p.X, p.xOffset, p.rows * p.cols),
          y: new Float64Array(p.y, p.yOffset, p.rows),
        })),
      );
      return;
    }
    if (message.type === 'broadcast') {
      broadcasts.set(message.id, new Float64Array(message.data));
      return;
    }
    if (message.type === 'release') {
      placements.delete(message.placement);
      return;
    }
    if (message.type === 'loop') {
      reply(
        message.attempt,
        (out) => {
          const parts = message.partitions.map((p) => partitionOf(message.placement, p));
          const client = new ParameterServerClient(message.ps, message.worker);
          getLoopKernel(message.kernel).run(parts, resolve(message.args), client, message.worker, out);
        },
        message.resultLength,
      );
      return;
    }
    tasksSeen++;
    const fault = faultAt(init.faults, tasksSeen);
    const slowMs = slowdownAt(init.faults, tasksSeen);
    if (fault?.kind === 'kill') process.exit(70);
    if (fault?.kind === 'delay') Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, fault.ms ?? 0);
    reply(
      message.attempt,
      (out) => {
        if (fault?.kind === 'throw')
          throw new Error(`injected fault: throw at task ${tasksSeen} of worker ${init.slot}`);
        getKernel(message.kernel).run(
          partitionOf(message.placement, message.partition),
          resolve(message.args),
          out,
        );
        if (fault?.kind === 'nan') out[0] = Number.NaN;
        if (slowMs > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, slowMs);
      },
      message.resultLength,
      message.out,
    );
  });
  send({ type: 'ready' });
}
