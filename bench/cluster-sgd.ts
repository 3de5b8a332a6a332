/**
 * Benchmark: parameter-server training on the cluster against the thread engine. Starts a
 * redis-server on a free loopback port and W `distml worker` processes (the built CLI: run
 * `npm run build` first), generates a seeded classification problem, and trains sgd-classifier
 * under BSP, ASP and SSP(1) on W worker threads (`--workers W`) and on the W-process cluster.
 * Prints, per engine and mode, the fit time, the test accuracy, the clocks per slot, and for the
 * cluster the cost of one clock (pull, local steps, push+clock and the wait, per slot) and the
 * Redis round trips per clock. Under BSP it also checks that both engines give the same bits.
 *
 *   npx tsx bench/cluster-sgd.ts [--rows N] [--features D] [--workers W] [--epochs E]
 *                                [--batch-size B] [--json FILE]
 *
 * Fit times are the library's `train` on an engine whose threads or workers already run and have
 * done one warm-up fit: they include placing the data (in Redis, for the cluster) and the loop,
 * not the data generation.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { makeClassification } from '../src/data/generate.ts';
import type { Engine } from '../src/engine/engine.ts';
import type { RedisTelemetry } from '../src/engine/redis/redis-engine.ts';
import type { ClassificationScores } from '../src/metrics/classification.ts';
import { connectEngine, createEngine } from '../src/pipeline/engines.ts';
import { splitFrame } from '../src/pipeline/split-frame.ts';
import { train } from '../src/pipeline/train.ts';
import { startBenchCluster } from './lib/cluster.ts';

interface Row {
  readonly engine: 'threads' | 'cluster';
  readonly mode: 'bsp' | 'asp' | 'ssp';
  readonly fitSeconds: number;
  readonly accuracy: number;
  readonly clocksPerSlot: number;
  readonly msPerClock?: number;
  readonly roundTripsPerClock?: number;
  readonly waitSecondsPerSlot?: number;
}

async function fitAll(engine: Engine, kind: Row['engine'], data: ReturnType<typeof splitFrame>, o: Options) {
  const rows: Row[] = [];
  const weights: Float64Array[] = [];
  // A warm-up fit (1 epoch), not measured: the first fit on an engine pays for JIT compilation
  // and first use of its threads or worker processes, which would count against BSP (run first).
  await train(data.train, {
    target: 'label',
    model: 'sgd-classifier',
    engine,
    seed: 1,
    params: { epochs: 1, batchSize: o.batchSize },
  });
  for (const mode of ['bsp', 'asp', 'ssp'] as const) {
    const before = (engine.telemetry() as RedisTelemetry).parameterServer;
    const started = performance.now();
    const model = await train(data.train, {
      target: 'label',
      model: 'sgd-classifier',
      engine,
      seed: 1,
      params: { epochs: o.epochs, batchSize: o.batchSize, consistency: mode, staleness: 1 },
    });
    const fitSeconds = (performance.now() - started) / 1000;
    const steps = Number(/as (\d+) steps/.exec(model.meta.fit.reason ?? '')?.[1]);
    const ps = (engine.telemetry() as RedisTelemetry).parameterServer;
    const row: Row = {
      engine: kind,
      mode,
      fitSeconds,
      accuracy: (model.evaluate(data.test) as ClassificationScores).accuracy,
      clocksPerSlot: steps,
    };
    if (ps !== undefined) {
      const clocks = ps.clocks - (before?.clocks ?? 0);
      const seconds = ps.slotSeconds - (before?.slotSeconds ?? 0);
      rows.push({
        ...row,
        msPerClock: (1000 * seconds) / clocks,
        roundTripsPerClock: (ps.roundTrips - (before?.roundTrips ?? 0)) / clocks,
        waitSecondsPerSlot: (ps.waitSeconds - (before?.waitSeconds ?? 0)) / o.workers,
      });
    } else rows.push(row);
    if (mode === 'bsp')
      weights.push(...Object.values(model.fitted.tensors()).map((t) => t.data as Float64Array));
  }
  return { rows, weights };
}

interface Options {
  rows: number;
  features: number;
  workers: number;
  epochs: number;
  batchSize: number;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      rows: { type: 'string', default: '200000' },
      features: { type: 'string', default: '20' },
      workers: { type: 'string', default: '2' },
      epochs: { type: 'string', default: '5' },
      'batch-size': { type: 'string', default: '32' },
      json: { type: 'string' },
    },
  });
  const o: Options = {
    rows: Number(values.rows),
    features: Number(values.features),
    workers: Number(values.workers),
    epochs: Number(values.epochs),
    batchSize: Number(values['batch-size']),
  };
  const dir = mkdtempSync(join(tmpdir(), 'distml-bench-cluster-sgd-'));
  const bench = await startBenchCluster(dir);
  try {
    await bench.startWorkers('bench', o.workers);
    const { frame } = makeClassification({
      rows: o.rows,
      features: o.features,
      classSeparation: 1,
      seed: 2026,
    });
    const data = splitFrame(frame, { testFraction: 0.2, method: 'tail' });
    process.stderr.write(
      `cluster-sgd: ${o.rows} rows × ${o.features} features, ${o.epochs} epochs, batches of ${o.batchSize}, ${o.workers} workers\n`,
    );
    const threads = createEngine({ workers: o.workers, local: { startEagerly: true } });
    const local = await fitAll(threads, 'threads', data, o).finally(() => threads.close());
    const cluster = await connectEngine({
      cluster: { url: bench.url, namespace: 'bench', minWorkers: o.workers, joinTimeoutMs: 20_000 },
    });
    const remote = await fitAll(cluster, 'cluster', data, o).finally(() => cluster.close());
    const same =
      local.weights.length === remote.weights.length &&
      local.weights.every((w, i) => Buffer.from(w.buffer).equals(Buffer.from(remote.weights[i]!.buffer)));
    console.log('engine   mode  fit (s)  accuracy  clocks/slot  ms/clock  round trips/clock  wait/slot (s)');
    for (const r of [...local.rows, ...remote.rows]) {
      console.log(
        `${r.engine.padEnd(9)}${r.mode.toUpperCase().padEnd(6)}${r.fitSeconds.toFixed(2).padStart(7)}` +
          `${r.accuracy.toFixed(4).padStart(10)}${String(r.clocksPerSlot).padStart(13)}` +
          `${r.msPerClock === undefined ? '' : r.msPerClock.toFixed(3).padStart(10)}` +
          `${r.roundTripsPerClock === undefined ? '' : r.roundTripsPerClock.toFixed(2).padStart(19)}` +
          `${r.waitSecondsPerSlot === undefined ? '' : r.waitSecondsPerSlot.toFixed(2).padStart(15)}`,
      );
    }
    console.log(`BSP: cluster and threads give ${same ? 'the same bits' : 'DIFFERENT models'}`);
    if (values.json !== undefined)
      writeFileSync(
        values.json,
        `${JSON.stringify({ options: o, rows: [...local.rows, ...remote.rows], same }, null, 2)}\n`,
      );
    if (!same) process.exitCode = 1;
  } finally {
    await bench.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
