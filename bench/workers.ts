/**
 * Benchmark: training on worker threads. Trains logistic regression on the cached 1,000,000 × 50
 * classification CSV with the built CLI (`bin/distml.js`) as a child process, serially (the inline
 * engine, `--workers 0`) and on 1 and 2 worker threads. `--partitions 2` keeps the work identical
 * for every worker count, so the models must be bit-identical: the benchmark checks that the
 * reports' metrics are equal and marks the result if they are not.
 *
 * In the same run it measures the machine's raw 2-thread scaling on pure compute (two worker
 * threads running the same arithmetic loop over an in-cache Float64Array, released together by an
 * Atomics barrier, against one thread), the ceiling any parallel speedup is bounded by.
 *
 *   npm run bench -- workers [--runs K]
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { Worker } from 'node:worker_threads';
import { classificationCsv, median } from './csv-read.ts';

/** The worker counts compared; 0 is the serial inline engine. */
export const WORKER_COUNTS = [0, 1, 2] as const;

/** Goals from the issue; printed next to the figures, never tuned for. */
export const GOALS = { speedup2v1: 1.8, overheadSecondsPerIteration: 0.002 } as const;

const ROOT = new URL('../', import.meta.url).pathname;
const CLI = join(ROOT, 'bin/distml.js');

/** What one training run measured, read from its `--report`. */
export interface TrainRun {
  workers: number;
  run: number;
  /** Position of this run in the whole sequence (runs of different worker counts are interleaved). */
  order: number;
  fitSeconds: number;
  loadSeconds: number;
  processSeconds: number;
  iterations: number;
  converged: boolean;
  finalLoss: number;
  secondsPerIteration: number;
  accuracy: number;
  metrics: Record<string, number>;
  engine: {
    kind: string;
    workers: number;
    passes: number;
    tasks: number;
    kernelSeconds: number;
    overheadSecondsPerPass?: number;
    syncWaitSeconds?: number;
    queueWaitSeconds?: number;
    retries?: number;
    busyRatio?: number[];
    inlineReason?: string;
  };
}

/** Medians over the runs of one worker count. */
export interface WorkerSummary {
  workers: number;
  label: string;
  medianFitSeconds: number;
  medianSecondsPerIteration: number;
  iterations: number;
  passes: number;
  /** Median of the engine's overheadSecondsPerPass (worker engine only). */
  medianOverheadSecondsPerPass?: number;
  /** The same, per L-BFGS iteration: overhead per pass × passes / iterations. */
  medianOverheadSecondsPerIteration?: number;
  medianSyncWaitSeconds?: number;
  medianBusyRatio?: number[];
  accuracy: number;
  /** Median fit seconds of 1 worker over this count's. */
  speedupVsOneWorker: number;
  /** Median fit seconds of the serial engine over this count's. */
  speedupVsSerial: number;
}

/** One measurement of raw 2-thread scaling. */
export interface CeilingTrial {
  singleSeconds: number;
  parallelWallSeconds: number;
  parallelThreadSeconds: number[];
  /** 2 × single / parallel wall: 2.00 is perfect scaling. */
  ratio: number;
}

/** Result of the worker-threads benchmark. */
export interface WorkersResult {
  file: string;
  trainCommand: string;
  runsPerCount: number;
  runs: TrainRun[];
  summary: WorkerSummary[];
  /** Whether every run of every worker count produced the same metrics, iterations and loss. */
  identicalModels: boolean;
  mismatches: string[];
  /** Warnings about the measurement itself (inline fallback, retries, …). */
  warnings: string[];
  speedup2v1: number;
  speedup2vSerial: number;
  goals: {
    speedup2v1: { goal: string; measured: number; met: boolean };
    overheadPerIteration: { goal: string; measured: Record<string, number>; met: boolean };
  };
  ceiling: {
    loop: string;
    arrayBytes: number;
    sweeps: number;
    trials: CeilingTrial[];
    medianSingleSeconds: number;
    medianParallelWallSeconds: number;
    medianRatio: number;
  };
}

function trainArgs(file: string, workers: number, report: string): string[] {
  return [
    'train',
    file,
    '--target',
    'label',
    '--model',
    'logistic-regression',
    '--param',
    'maxIter=100',
    '--split',
    'tail',
    '--test-fraction',
    '0.2',
    '--partitions',
    '2',
    '--workers',
    String(workers),
    '--report',
    report,
    '-q',
  ];
}

interface Report {
  metrics: Record<string, number>;
  fit: { iterations?: number; converged?: boolean; finalLoss?: number };
  timings: { fitSeconds: number; loadSeconds: number };
  engine: {
    kind: string;
    workers: number;
    passes: number;
    tasks: number;
    kernelSeconds: number;
    overheadSecondsPerPass?: number;
    syncWaitSeconds?: number;
    queueWaitSeconds?: number;
    retries?: number;
    perWorker?: Array<{ busyRatio: number }>;
    inlineReason?: string;
  };
}

function trainOnce(file: string, workers: number, dir: string, run: number, order: number): TrainRun {
  const reportPath = join(dir, `w${workers}-run${run}.json`);
  const started = performance.now();
  const child = spawnSync(process.execPath, [CLI, ...trainArgs(file, workers, reportPath)], {
    cwd: ROOT,
    encoding: 'utf8',
    maxBuffer: 1 << 24,
  });
  const processSeconds = (performance.now() - started) / 1000;
  if (child.status !== 0) {
    throw new Error(
      `distml train --workers ${workers} exited with ${child.status ?? child.signal}:\n${child.stderr}`,
    );
  }
  const r = JSON.parse(readFileSync(reportPath, 'utf8')) as Report;
  const iterations = r.fit.iterations ?? Number.NaN;
  const e = r.engine;
  return {
    workers,
    run,
    order,
    fitSeconds: r.timings.fitSeconds,
    loadSeconds: r.timings.loadSeconds,
    processSeconds,
    iterations,
    converged: r.fit.converged ?? false,
    finalLoss: r.fit.finalLoss ?? Number.NaN,
    secondsPerIteration: r.timings.fitSeconds / iterations,
    accuracy: r.metrics.accuracy ?? Number.NaN,
    metrics: r.metrics,
    engine: {
      kind: e.kind,
      workers: e.workers,
      passes: e.passes,
      tasks: e.tasks,
      kernelSeconds: e.kernelSeconds,
      ...(e.overheadSecondsPerPass === undefined ? {} : { overheadSecondsPerPass: e.overheadSecondsPerPass }),
      ...(e.syncWaitSeconds === undefined ? {} : { syncWaitSeconds: e.syncWaitSeconds }),
      ...(e.queueWaitSeconds === undefined ? {} : { queueWaitSeconds: e.queueWaitSeconds }),
      ...(e.retries === undefined ? {} : { retries: e.retries }),
      ...(e.perWorker === undefined ? {} : { busyRatio: e.perWorker.map((w) => w.busyRatio) }),
      ...(e.inlineReason === undefined ? {} : { inlineReason: e.inlineReason }),
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Hardware ceiling: the same arithmetic loop on one thread, then on two released together.

/** Doubles in each thread's array: 32 KiB, inside L1/L2 of any current core. */
const CEILING_ELEMENTS = 4096;
/** Sweeps over the array per timed loop; about 1 s on one thread of the development machine. */
const CEILING_SWEEPS = 600_000;

/**
 * Worker source (CommonJS, run with `eval: true`). Each thread fills its own array, warms the loop
 * up, reports ready, waits on the barrier, then times `sweeps` sweeps of a 4-accumulator
 * multiply-add over the array (the shape of the logistic-regression kernel's dot products).
 */
const CEILING_WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const { barrier, n, sweeps } = workerData;
const flags = new Int32Array(barrier);
const a = new Float64Array(n);
for (let i = 0; i < n; i++) a[i] = 1 + (i % 7) * 1e-3;
function loop(a, sweeps) {
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  const w0 = 0.999, w1 = 1.001, w2 = 0.998, w3 = 1.002;
  for (let r = 0; r < sweeps; r++) {
    for (let i = 0; i < a.length; i += 4) {
      s0 += a[i] * w0; s1 += a[i + 1] * w1; s2 += a[i + 2] * w2; s3 += a[i + 3] * w3;
    }
    s0 *= 0.5; s1 *= 0.5; s2 *= 0.5; s3 *= 0.5;
  }
  return s0 + s1 + s2 + s3;
}
let sink = 0;
for (let k = 0; k < 20; k++) sink += loop(a, 200);
Atomics.add(flags, 0, 1);
Atomics.notify(flags, 0);
Atomics.wait(flags, 1, 0);
const start = performance.timeOrigin + performance.now();
sink += loop(a, sweeps);
const end = performance.timeOrigin + performance.now();
parentPort.postMessage({ start, end, sink });
`;

interface ThreadTiming {
  start: number;
  end: number;
  sink: number;
}

async function runThreads(threads: number): Promise<ThreadTiming[]> {
  const barrier = new SharedArrayBuffer(8);
  const flags = new Int32Array(barrier);
  const workers: Worker[] = [];
  const done: Array<Promise<ThreadTiming>> = [];
  for (let t = 0; t < threads; t++) {
    const w = new Worker(CEILING_WORKER, {
      eval: true,
      workerData: { barrier, n: CEILING_ELEMENTS, sweeps: CEILING_SWEEPS },
    });
    workers.push(w);
    done.push(
      new Promise<ThreadTiming>((resolve, reject) => {
        w.once('message', (m: ThreadTiming) => resolve(m));
        w.once('error', reject);
      }),
    );
  }
  try {
    // Wait until every thread is warmed up and parked at the barrier, then release them together.
    while (Atomics.load(flags, 0) < threads) await new Promise((resolve) => setTimeout(resolve, 1));
    Atomics.store(flags, 1, 1);
    Atomics.notify(flags, 1);
    return await Promise.all(done);
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

/** One trial: one thread alone, then two together. */
export async function ceilingTrial(): Promise<CeilingTrial> {
  const [single] = await runThreads(1);
  const pair = await runThreads(2);
  const singleSeconds = (single!.end - single!.start) / 1000;
  const parallelWallSeconds =
    (Math.max(...pair.map((t) => t.end)) - Math.min(...pair.map((t) => t.start))) / 1000;
  return {
    singleSeconds,
    parallelWallSeconds,
    parallelThreadSeconds: pair.map((t) => (t.end - t.start) / 1000),
    ratio: (2 * singleSeconds) / parallelWallSeconds,
  };
}

// ---------------------------------------------------------------------------------------------

function labelOf(workers: number): string {
  return workers === 0 ? 'serial' : `${workers} worker${workers === 1 ? '' : 's'}`;
}

/** Runs the benchmark. Builds the project first so the CLI runs the current source. */
export async function workersBenchmark(options: {
  rows: number;
  features: number;
  runs: number;
}): Promise<WorkersResult> {
  process.stderr.write('  npm run build …\n');
  execFileSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
  const file = await classificationCsv(options.rows, options.features);
  const dir = mkdtempSync(join(tmpdir(), 'distml-bench-workers-'));
  const runs: TrainRun[] = [];
  const trials: CeilingTrial[] = [];
  try {
    let order = 0;
    for (let run = 0; run < options.runs; run++) {
      // Three ceiling trials per round, so the hardware figure samples the same stretch of time.
      for (let t = 0; t < 3; t++) {
        const trial = await ceilingTrial();
        trials.push(trial);
        process.stderr.write(
          `  ceiling trial ${trials.length}: 1 thread ${trial.singleSeconds.toFixed(3)}s, 2 threads ${trial.parallelWallSeconds.toFixed(3)}s wall → ${trial.ratio.toFixed(2)}×\n`,
        );
      }
      // Rotate the order of the worker counts from round to round, so none always runs first.
      const counts = WORKER_COUNTS.map((_, i) => WORKER_COUNTS[(i + run) % WORKER_COUNTS.length]!);
      for (const workers of counts) {
        const r = trainOnce(file, workers, dir, run + 1, ++order);
        runs.push(r);
        process.stderr.write(
          `  run ${run + 1} ${labelOf(workers).padEnd(9)} fit ${r.fitSeconds.toFixed(2)}s, ${r.iterations} iterations, ${r.engine.passes} passes` +
            (r.engine.overheadSecondsPerPass === undefined
              ? ''
              : `, overhead ${(r.engine.overheadSecondsPerPass * 1000).toFixed(2)} ms/pass`) +
            `, accuracy ${r.accuracy}\n`,
        );
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  // Honesty check: the same partitions must give the same model whatever runs them.
  const mismatches: string[] = [];
  const reference = runs[0]!;
  for (const r of runs.slice(1)) {
    const where = `${labelOf(r.workers)} run ${r.run} vs ${labelOf(reference.workers)} run ${reference.run}`;
    if (!isDeepStrictEqual(r.metrics, reference.metrics)) mismatches.push(`${where}: metrics differ`);
    if (r.iterations !== reference.iterations) {
      mismatches.push(`${where}: ${r.iterations} vs ${reference.iterations} iterations`);
    }
    if (!Object.is(r.finalLoss, reference.finalLoss)) {
      mismatches.push(`${where}: final loss ${r.finalLoss} vs ${reference.finalLoss}`);
    }
  }

  const warnings: string[] = [];
  for (const r of runs) {
    const expected = r.workers === 0 ? 'inline' : 'local';
    if (r.engine.kind !== expected) {
      warnings.push(
        `${labelOf(r.workers)} run ${r.run}: engine kind '${r.engine.kind}', expected '${expected}'`,
      );
    }
    if (r.engine.inlineReason !== undefined) {
      warnings.push(`${labelOf(r.workers)} run ${r.run} ran on the driver thread: ${r.engine.inlineReason}`);
    }
    if ((r.engine.retries ?? 0) > 0) {
      warnings.push(`${labelOf(r.workers)} run ${r.run}: ${r.engine.retries} task retries`);
    }
  }

  const fitOf = (w: number) => median(runs.filter((r) => r.workers === w).map((r) => r.fitSeconds));
  const oneWorker = fitOf(1);
  const serial = fitOf(0);
  const summary: WorkerSummary[] = WORKER_COUNTS.map((workers) => {
    const mine = runs.filter((r) => r.workers === workers);
    const fit = fitOf(workers);
    const s: WorkerSummary = {
      workers,
      label: labelOf(workers),
      medianFitSeconds: fit,
      medianSecondsPerIteration: median(mine.map((r) => r.secondsPerIteration)),
      iterations: median(mine.map((r) => r.iterations)),
      passes: median(mine.map((r) => r.engine.passes)),
      accuracy: median(mine.map((r) => r.accuracy)),
      speedupVsOneWorker: oneWorker / fit,
      speedupVsSerial: serial / fit,
    };
    if (mine.every((r) => r.engine.overheadSecondsPerPass !== undefined)) {
      s.medianOverheadSecondsPerPass = median(mine.map((r) => r.engine.overheadSecondsPerPass!));
      s.medianOverheadSecondsPerIteration = median(
        mine.map((r) => (r.engine.overheadSecondsPerPass! * r.engine.passes) / r.iterations),
      );
    }
    if (mine.every((r) => r.engine.syncWaitSeconds !== undefined)) {
      s.medianSyncWaitSeconds = median(mine.map((r) => r.engine.syncWaitSeconds!));
    }
    if (mine.every((r) => r.engine.busyRatio !== undefined)) {
      s.medianBusyRatio = mine[0]!.engine.busyRatio!.map((_, i) =>
        median(mine.map((r) => r.engine.busyRatio![i]!)),
      );
    }
    return s;
  });

  const two = summary.find((s) => s.workers === 2)!;
  const overheads: Record<string, number> = {};
  for (const s of summary) {
    if (s.medianOverheadSecondsPerIteration !== undefined) {
      overheads[s.label] = s.medianOverheadSecondsPerIteration;
    }
  }
  const ceiling = {
    loop: '4-accumulator multiply-add sweeps over a per-thread Float64Array',
    arrayBytes: CEILING_ELEMENTS * 8,
    sweeps: CEILING_SWEEPS,
    trials,
    medianSingleSeconds: median(trials.map((t) => t.singleSeconds)),
    medianParallelWallSeconds: median(trials.map((t) => t.parallelWallSeconds)),
    medianRatio: median(trials.map((t) => t.ratio)),
  };
  return {
    file,
    trainCommand: `node bin/distml.js ${trainArgs(relative(ROOT, file), 0, 'REPORT.json')
      .join(' ')
      .replace('--workers 0', '--workers W')}`,
    runsPerCount: options.runs,
    runs,
    summary,
    identicalModels: mismatches.length === 0,
    mismatches,
    warnings,
    speedup2v1: two.speedupVsOneWorker,
    speedup2vSerial: two.speedupVsSerial,
    goals: {
      speedup2v1: {
        goal: `≥ ${GOALS.speedup2v1}× for 2 workers over 1`,
        measured: two.speedupVsOneWorker,
        met: two.speedupVsOneWorker >= GOALS.speedup2v1,
      },
      overheadPerIteration: {
        goal: `< ${GOALS.overheadSecondsPerIteration * 1000} ms of engine overhead per iteration`,
        measured: overheads,
        met:
          Object.keys(overheads).length > 0 &&
          Object.values(overheads).every((o) => o < GOALS.overheadSecondsPerIteration),
      },
    },
    ceiling,
  };
}
