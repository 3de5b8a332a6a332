/**
 * Threads inside one `distml worker` against worker processes: the cluster benchmark's logistic
 * regression (1,000,000 × 50, 2 partitions, the same model on every layout) trained by
 * `distml train --cluster` on
 *
 * - one worker process with `--threads 2`,
 * - two worker processes with `--threads 1`,
 * - one worker process with `--threads 1` (the baseline),
 *
 * each `RUNS` times (default 3), the layouts interleaved so that the machine's load drifts over
 * all of them alike. Prints the fit time (the report's `timings.fitSeconds`) of every run, the
 * medians, and whether every fit gave the same metrics; then, per layout, the same fit once more
 * through the library with each pass (`treeReduce`) timed: the fit time also holds costs that do
 * not depend on the layout (the driver writing the partitions to Redis, preprocessing). Not part of `npm run bench`: run it by
 * hand, `npx tsx bench/cluster-threads.ts [RUNS] [ROWS]`, after `npm run build`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readFrame } from '../src/data/read.ts';
import type { Engine } from '../src/engine/engine.ts';
import { RedisEngine } from '../src/engine/redis/redis-engine.ts';
import '../src/models/kernels.ts';
import { getModel } from '../src/models/registry.ts';
import { splitFrame } from '../src/pipeline/split-frame.ts';
import { train } from '../src/pipeline/train.ts';
import { startBenchCluster } from './lib/cluster.ts';
import { dataset } from './lib/datasets.ts';
import { type TrainRun, type TrainSpec, trainOnce } from './lib/distml-cli.ts';
import { median } from './lib/stats.ts';

const runs = Number(process.argv[2] ?? 3);
const rows = Number(process.argv[3] ?? 1_000_000);
const spec: TrainSpec = {
  data: dataset({ kind: 'classification', rows, features: 50, seed: 1 }),
  target: 'label',
  model: 'logistic-regression',
  params: ['C=1', 'maxIter=100', 'tol=0.0001'],
  partitions: 2,
  testFraction: 0.2,
};
const layouts = [
  { name: '1 process × 2 threads', processes: 1, threads: 2 },
  { name: '2 processes × 1 thread', processes: 2, threads: 1 },
  { name: '1 process × 1 thread', processes: 1, threads: 1 },
];

const dir = mkdtempSync(join(tmpdir(), 'distml-bench-threads-'));
const cluster = await startBenchCluster(dir);
const results = new Map<string, TrainRun[]>(layouts.map((l) => [l.name, []]));
const passes = new Map<string, number[]>();
try {
  for (let run = 0; run < runs; run++) {
    for (const layout of layouts) {
      const namespace = `t${layout.processes}x${layout.threads}r${run}`;
      await cluster.startWorkers(namespace, layout.processes, layout.threads);
      const extra = [
        '--cluster',
        cluster.url,
        '--namespace',
        namespace,
        '--min-workers',
        String(layout.processes),
      ];
      const r = trainOnce({ ...spec, extra });
      await cluster.stopWorkers();
      results.get(layout.name)!.push(r);
      if (run === runs - 1) {
        await cluster.startWorkers(namespace, layout.processes, layout.threads);
        passes.set(layout.name, await timedPasses(namespace, layout.processes));
        await cluster.stopWorkers();
      }
      console.log(
        `${layout.name}: fit ${r.fitSeconds.toFixed(2)} s, ${r.engine.passes} passes, kernels ${r.engine.kernelSeconds.toFixed(2)} s`,
      );
    }
  }
} finally {
  await cluster.close();
  rmSync(dir, { recursive: true, force: true });
}
const all = [...results.values()].flat();
const same = all.every((r) => JSON.stringify(r.metrics) === JSON.stringify(all[0]!.metrics));
for (const [name, rs] of results) {
  const fits = rs.map((r) => r.fitSeconds);
  console.log(
    `${name}: median fit ${median(fits).toFixed(2)} s (runs: ${fits.map((f) => f.toFixed(2)).join(', ')})`,
  );
}
console.log(`metrics identical across all ${all.length} fits: ${same}`);
for (const [name, ms] of passes) {
  console.log(
    `${name}: median pass ${median(ms.slice(1)).toFixed(0)} ms over ${ms.length - 1} passes (the first, ${ms[0]!.toFixed(0)} ms, also fetches the partitions)`,
  );
}

/** Milliseconds of each pass of the fit, through the library on the running workers. */
async function timedPasses(namespace: string, processes: number): Promise<number[]> {
  const frame = await readFrame(spec.data);
  const rows = splitFrame(frame, { testFraction: spec.testFraction, method: 'tail' }).train;
  const engine = await RedisEngine.connect({ url: cluster.url, namespace, minWorkers: processes });
  const ms: number[] = [];
  const treeReduce = engine.treeReduce.bind(engine);
  const timed: Engine = Object.create(engine, {
    treeReduce: {
      value: async (...args: Parameters<Engine['treeReduce']>) => {
        const started = performance.now();
        try {
          return await treeReduce(...args);
        } finally {
          ms.push(performance.now() - started);
        }
      },
    },
  });
  try {
    const definition = getModel(spec.model);
    const params = definition.params.parse(definition.name, spec.params);
    await train(rows, { target: spec.target, model: spec.model, params, engine: timed, partitions: 2 });
    return ms;
  } finally {
    await engine.close();
  }
}
