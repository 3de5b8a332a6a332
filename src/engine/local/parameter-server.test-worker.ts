/**
 * Test fixture: a worker thread running minibatch SGD for least squares on its own partition
 * against a shared parameter server. Used by parameter-server.test.ts; not part of the library.
 *
 * Loss: (1 / 2m)·‖X·w − y‖² over a minibatch of m rows drawn with a seeded generator, so a run is
 * a pure function of the data, the seeds and what the server lets the worker see.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Rng } from '../../data/random.ts';
import type { StalenessCounter } from './parameter-server.ts';
import {
  ParameterServerClient,
  type ParameterServerHandle,
  ParameterServerTimeoutError,
} from './parameter-server.ts';

/** What the test passes in `workerData`. */
export interface SgdWorkerData {
  readonly handle: ParameterServerHandle;
  readonly worker: number;
  /** This worker's partition: `rows × cols`, row-major. */
  readonly X: Float64Array;
  readonly y: Float64Array;
  readonly rows: number;
  readonly cols: number;
  readonly steps: number;
  readonly batch: number;
  readonly lr: number;
  readonly seed: number;
  /** Test-only knob: sleep this long in every step, to make a straggler. */
  readonly slowMs: number;
  /** Test-only knob: push once, then stop without ever calling clock(). */
  readonly neverClock: boolean;
}

/** What the worker posts back when it stops. */
export type SgdWorkerResult =
  | {
      readonly kind: 'done';
      readonly worker: number;
      readonly clock: number;
      readonly staleness: StalenessCounter;
    }
  | {
      readonly kind: 'error';
      readonly worker: number;
      readonly name: string;
      readonly code: string;
      readonly message: string;
      readonly timeoutWorker?: number | 'driver';
      readonly timeoutClock?: number;
      readonly timeoutMode?: string;
    };

const job = workerData as SgdWorkerData;
const { X, y, rows, cols: d, batch, lr } = job;
const client = new ParameterServerClient(job.handle, job.worker);
const rng = new Rng(job.seed);
const w = new Float64Array(d);
const g = new Float64Array(d);
const nap = new Int32Array(new SharedArrayBuffer(4));

function step(): void {
  client.pull(w);
  if (job.slowMs > 0) Atomics.wait(nap, 0, 0, job.slowMs);
  g.fill(0);
  for (let b = 0; b < batch; b++) {
    const r = rng.int(rows) * d;
    let residual = -y[r / d]!;
    for (let j = 0; j < d; j++) residual += X[r + j]! * w[j]!;
    for (let j = 0; j < d; j++) g[j]! += residual * X[r + j]!;
  }
  const scale = -lr / batch;
  for (let j = 0; j < d; j++) g[j]! *= scale;
  client.push(g);
}

let result: SgdWorkerResult;
try {
  if (job.neverClock) step();
  else
    for (let s = 0; s < job.steps; s++) {
      step();
      client.clock();
    }
  result = { kind: 'done', worker: job.worker, clock: client.currentClock, staleness: client.staleness };
} catch (err) {
  const e = err instanceof Error ? err : new Error(String(err));
  result = {
    kind: 'error',
    worker: job.worker,
    name: e.name,
    code: (e as { code?: string }).code ?? '',
    message: e.message,
    ...(e instanceof ParameterServerTimeoutError
      ? { timeoutWorker: e.worker, timeoutClock: e.clock, timeoutMode: e.mode }
      : {}),
  };
}
parentPort?.postMessage(result);
