/**
 * The cluster benchmark's measurements, in a process of their own because they need a running
 * redis-server and `distml worker` processes (bench/lib/cluster.ts) for their whole duration.
 * Takes one JSON argument ({@link ClusterChildConfig}) and prints one JSON line
 * ({@link ClusterChildOutput}).
 *
 * 1. BSP overhead: `treeReduce('bench.vector')` of `length` floats over 3 partitions on 3 worker
 *    processes, pass by pass, each pass sending the previous sum to every worker (an allreduce) and
 *    giving it back afterwards (`Engine.recycle`). Overhead = the pass's wall time minus its kernel time (the mean of
 *    its tasks', which run side by side). Beside it, Redis alone moving the same bytes: one client
 *    writing the 3 results and reading them back; and the floor: the same bytes between plain Node
 *    processes over loopback TCP (transfer-floor.ts).
 * 2. Logistic regression: `distml train --cluster` on 1 and on 2 worker processes of one thread,
 *    the fits of the two counts taking turns, then once more through the library with the
 *    engine's calls timed, to say where the fit time goes: placing the partitions, the first pass
 *    (workers fetch their partitions), the others.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { blockRanges } from '../src/data/design-matrix.ts';
import { readFrame } from '../src/data/read.ts';
import { BENCH_VECTOR } from '../src/engine/bench.kernels.ts';
import type { Engine } from '../src/engine/engine.ts';
import { RedisEngine } from '../src/engine/redis/redis-engine.ts';
import '../src/models/kernels.ts';
import { getModel } from '../src/models/registry.ts';
import { splitFrame } from '../src/pipeline/split-frame.ts';
import { train } from '../src/pipeline/train.ts';
import { startBenchCluster } from './lib/cluster.ts';
import { type TrainRun, type TrainSpec, trainOnce } from './lib/distml-cli.ts';
import { median } from './lib/stats.ts';
import { measureTransferFloor } from './transfer-floor.ts';

/** What to measure. */
export interface ClusterChildConfig {
  /** Floats in the reduced vector. */
  length: number;
  /** Timed passes, after `warmup` untimed ones. */
  passes: number;
  warmup: number;
  /** Worker processes (and partitions) of the BSP measurement. */
  reduceWorkers: number;
  /** `distml train` of the logistic measurement, without the cluster options. */
  train: TrainSpec;
  /** Worker-process counts to train on, each `runs` times. */
  processes: number[];
  runs: number;
}

/** Milliseconds per timed pass, and the fits. */
export interface ClusterChildOutput {
  wallMs: number[];
  kernelMs: number[];
  overheadMs: number[];
  /** The same passes with `channel: false` (everything through Redis). */
  overheadMsViaRedis: number[];
  redisAloneMs: number[];
  /** The pass's bytes between plain Node processes over loopback TCP, nothing else (transfer-floor.ts). */
  floorMs: number[];
  fits: Record<string, TrainRun[]>;
  /** The same fits with `--shared-data --test-fraction 0`: the workers read the CSV themselves. */
  sharedFits: Record<string, TrainRun[]>;
  /** One timed library fit per worker-process count. */
  profiles: Record<string, FitProfile>;
}

/** Where one fit's time went, in milliseconds. */
export interface FitProfile {
  fitMs: number;
  /**
   * `engine.distributeRaw`: the driver putting out the partitions, the frame's rows as read (served
   * from memory over the channel: nothing moves until the workers fetch them).
   */
  placeMs: number;
  /** The first pass, in which each worker also fetches its partitions from the driver and encodes them. */
  firstPassMs: number;
  /** Median of the other passes. */
  passMs: number;
  passes: number;
}

const config = JSON.parse(process.argv[2] ?? '') as ClusterChildConfig;
const dir = mkdtempSync(join(tmpdir(), 'distml-bench-cluster-'));
const cluster = await startBenchCluster(dir);
try {
  const out: ClusterChildOutput = {
    wallMs: [],
    kernelMs: [],
    overheadMs: [],
    overheadMsViaRedis: [],
    redisAloneMs: [],
    floorMs: [],
    fits: {},
    sharedFits: {},
    profiles: {},
  };
  await measureReduce(config, out);
  // Every worker-process count's workers run from the start, and the fits take turns (1, 2, 1, 2,
  // …), so that a machine that slows down or speeds up during the run weighs on both counts alike;
  // idle workers only renew their heartbeats.
  for (const processes of config.processes) await cluster.startWorkers(`fit${processes}`, processes);
  const clusterArgs = (processes: number) => [
    '--cluster',
    cluster.url,
    '--namespace',
    `fit${processes}`,
    '--min-workers',
    String(processes),
  ];
  for (const processes of config.processes) {
    out.fits[String(processes)] = [];
    out.sharedFits[String(processes)] = [];
  }
  for (let i = 0; i < config.runs; i++) {
    for (const processes of config.processes) {
      const r = trainOnce({ ...config.train, extra: clusterArgs(processes) });
      process.stderr.write(`    cluster, ${processes} worker process(es): fit ${r.fitSeconds.toFixed(2)}s\n`);
      out.fits[String(processes)]!.push(r);
    }
  }
  // Right after the CLI fits, on the same workers, so that like them it builds its partitions in
  // the memory of the fit before (the shared-data fits' partitions are of other sizes).
  for (const processes of config.processes)
    out.profiles[String(processes)] = await profileFit(config.train, `fit${processes}`, processes);
  for (let i = 0; i < config.runs; i++) {
    for (const processes of config.processes) {
      const extra = [...clusterArgs(processes), '--shared-data'];
      const r = trainOnce({ ...config.train, testFraction: 0, extra });
      process.stderr.write(
        `    cluster --shared-data, ${processes} worker process(es): ${r.wallSeconds.toFixed(2)}s wall\n`,
      );
      out.sharedFits[String(processes)]!.push(r);
    }
  }
  await cluster.stopWorkers();
  process.stdout.write(`${JSON.stringify(out)}\n`);
} finally {
  await cluster.close();
  rmSync(dir, { recursive: true, force: true });
}

async function measureReduce(c: ClusterChildConfig, out: ClusterChildOutput): Promise<void> {
  const k = c.reduceWorkers;
  await cluster.startWorkers('reduce', k);
  try {
    await reducePasses(c, out, true);
    // The same passes with everything through Redis (`--no-channel`), for comparison.
    const viaRedis: ClusterChildOutput = { ...out, wallMs: [], kernelMs: [], overheadMs: [] };
    await reducePasses(c, viaRedis, false);
    out.overheadMsViaRedis = viaRedis.overheadMs;
  } finally {
    await cluster.stopWorkers();
  }
  await measureRedisAlone(c, out);
  out.floorMs = await measureTransferFloor(c.length, k, c.passes, c.warmup);
}

/** Timed allreduce passes on the workers of namespace `reduce`, with or without the task channel. */
async function reducePasses(c: ClusterChildConfig, out: ClusterChildOutput, channel: boolean): Promise<void> {
  const k = c.reduceWorkers;
  const engine = await RedisEngine.connect({ url: cluster.url, namespace: 'reduce', minWorkers: k, channel });
  try {
    // One row per partition: the data is nothing, the result vector is everything.
    const placement = await engine.distribute(
      { rows: k, cols: 1, X: new Float64Array(k), y: new Float64Array(k) },
      { partitions: k },
    );
    if (blockRanges(k, k).length !== k) throw new Error('expected one row per partition');
    // Each pass sends the previous pass's sum back to every worker, as a model sends its
    // parameters: the pass is a whole allreduce (broadcast, then reduce), not only a reduce.
    let previous: Float64Array = new Float64Array(c.length);
    for (let pass = 0; pass < c.warmup + c.passes; pass++) {
      const kernelBefore = engine.telemetry().kernelSeconds;
      const started = performance.now();
      const sum = await engine.treeReduce(BENCH_VECTOR, placement, { length: c.length, input: previous });
      // The previous sum is dead once this pass has read it: given back, a later result arrives in
      // its memory, as a training loop gives back each pass's gradient once it has used it.
      engine.recycle(previous);
      previous = sum;
      const wall = performance.now() - started;
      // Each partition contributes its row count (1) to every element.
      if (sum.length !== c.length || sum[0] !== k || sum[c.length - 1] !== k) {
        throw new Error(
          `bench.vector reduced to [${sum[0]}, …, ${sum[c.length - 1]}], expected ${k} everywhere`,
        );
      }
      if (pass < c.warmup) continue;
      const kernel = ((engine.telemetry().kernelSeconds - kernelBefore) * 1000) / k;
      out.wallMs.push(wall);
      out.kernelMs.push(kernel);
      out.overheadMs.push(wall - kernel);
      process.stderr.write(
        `    reduce pass ${pass - c.warmup + 1}${channel ? '' : ' (no channel)'}: ${wall.toFixed(1)} ms wall\n`,
      );
    }
  } finally {
    await engine.close();
  }
}

async function measureRedisAlone(c: ClusterChildConfig, out: ClusterChildOutput): Promise<void> {
  const k = c.reduceWorkers;
  // Redis alone: the same bytes written and read once through one connection, nothing else.
  const redis = new Redis(cluster.url);
  try {
    const value = Buffer.alloc(c.length * 8, 1);
    for (let pass = 0; pass < c.warmup + c.passes; pass++) {
      const started = performance.now();
      for (let p = 0; p < k; p++) await redis.set(`bench:alone:${p}`, value);
      for (let p = 0; p < k; p++) await redis.getBuffer(`bench:alone:${p}`);
      if (pass >= c.warmup) out.redisAloneMs.push(performance.now() - started);
    }
    await redis.del(...Array.from({ length: k }, (_, p) => `bench:alone:${p}`));
  } finally {
    redis.disconnect();
  }
}

/** The fit of `spec` through the library, with `distribute` and `treeReduce` timed. */
async function profileFit(spec: TrainSpec, namespace: string, processes: number): Promise<FitProfile> {
  const frame = await readFrame(spec.data);
  const rows = splitFrame(frame, { testFraction: spec.testFraction, method: 'tail' }).train;
  const engine = await RedisEngine.connect({ url: cluster.url, namespace, minWorkers: processes });
  const placeMs: number[] = [];
  const passMs: number[] = [];
  // The engine as the fit sees it, with its two costly calls timed.
  const timed: Engine = Object.create(engine, {
    distribute: { value: timedCall(engine.distribute.bind(engine), placeMs) },
    distributeRaw: { value: timedCall(engine.distributeRaw.bind(engine), placeMs) },
    treeReduce: { value: timedCall(engine.treeReduce.bind(engine), passMs) },
  });
  try {
    const definition = getModel(spec.model);
    const params = definition.params.parse(definition.name, spec.params);
    const started = performance.now();
    await train(rows, {
      target: spec.target,
      model: spec.model,
      params,
      engine: timed,
      ...(spec.partitions === undefined ? {} : { partitions: spec.partitions }),
    });
    const fitMs = performance.now() - started;
    return {
      fitMs,
      placeMs: placeMs.reduce((a, b) => a + b, 0),
      firstPassMs: passMs[0] ?? 0,
      passMs: median(passMs.slice(1)),
      passes: passMs.length,
    };
  } finally {
    await engine.close();
  }
}

function timedCall<A extends unknown[], R>(f: (...args: A) => Promise<R>, into: number[]) {
  return async (...args: A): Promise<R> => {
    const started = performance.now();
    try {
      return await f(...args);
    } finally {
      into.push(performance.now() - started);
    }
  };
}
