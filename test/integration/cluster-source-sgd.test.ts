/**
 * The SGD models with `--shared-data`: parameter-server loop slots that read their partitions from
 * the source themselves, on a real redis-server with two real `distml worker` processes, every
 * task message signed (the slots' lineages travel in them). The reference is the same fit without
 * `--shared-data` on the same cluster, whose slots load the partitions the driver wrote to Redis.
 *
 * For the comparison to be exact the two must cut the rows alike: the driver cuts P equal row
 * blocks, `--shared-data` cuts P equal byte ranges. The test file has lines of one width and a
 * short header, so both give 1,000 rows per partition (the workers' logs say how many they read).
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { runCli, trainSaved } from '../helpers/cli.ts';
import { partitionsLoaded, startWorker, useCluster } from '../helpers/redis-server.ts';
import { assertSameBits, worstDifference } from '../helpers/same-bits.ts';

const fx = useCluster('distml-cluster-source-sgd-');
let data: string;
let secretFile: string;
const NS = ['--namespace', 'sgd-src'];

fx.setup(async () => {
  secretFile = join(fx.dir, 'secret');
  await writeFile(secretFile, 'a-cluster-secret-for-source-loops-17');
  const generated = join(fx.dir, 'generated.csv');
  const gen = await runCli([
    'generate',
    'classification',
    '--rows',
    '4000',
    '--features',
    '8',
    '--seed',
    '5',
    '--out',
    generated,
    '-q',
  ]);
  assert.equal(gen.code, 0, gen.stderr);
  // Fixed width: every value as ±ddd.dddddd, so every line is 97 bytes and the 30-byte header is
  // shorter than a third of a line, which makes the 4 byte ranges own 1,000 lines each.
  const [header, ...rows] = (await readFile(generated, 'utf8')).trimEnd().split('\n');
  const fixed = (v: number) => `${v < 0 ? '-' : '+'}${Math.abs(v).toFixed(6).padStart(10, '0')}`;
  data = join(fx.dir, 'fixed-width.csv');
  await writeFile(
    data,
    `${[
      header,
      ...rows.map((r) =>
        r
          .split(',')
          .map((x, j, all) => (j < all.length - 1 ? fixed(Number(x)) : x))
          .join(','),
      ),
    ].join('\n')}\n`,
  );
  for (const name of ['a', 'b'])
    fx.workers.push(await startWorker(fx.redis.url, ['--name', name, ...NS, '--secret-file', secretFile]));
});

interface Report {
  data: { rows: number; sharedData?: boolean };
  fit: { reason: string };
  engine: {
    bytesOut: number;
    partitionBytesOut: number;
    parameterServer?: { loops: number; clocks: number };
  };
}

/** `distml train` on the cluster with a saved model and a report; fails the test on a non-zero exit. */
async function fit(name: string, extra: readonly string[]) {
  const marks = fx.workers.map((w) => w.log().length);
  const cluster = ['--cluster', fx.redis.url, ...NS, '--secret-file', secretFile, '--min-workers', '2'];
  const what = [
    '--target',
    'label',
    '--model',
    'sgd-classifier',
    '--test-fraction',
    '0',
    '--partitions',
    '4',
  ];
  const r = await trainSaved<Report>(fx.dir, name, [data, ...what, ...cluster, ...extra]);
  return {
    report: r.report,
    file: r.file,
    tensors: r.file.tensors,
    logs: fx.workers.map((w, i) => w.log().slice(marks[i])),
  };
}

test('sgd-classifier under BSP with --shared-data equals the fit without it, bit for bit; each slot reads only its own partitions', async () => {
  // standardize=false: the plan is then the same whichever way it is learned (see the next test).
  const raw = ['--param', 'standardize=false'];
  const placed = await fit('placed', raw);
  const shared = await fit('shared', [...raw, '--shared-data']);
  assertSameBits(
    shared.tensors,
    placed.tensors,
    `fits: ${shared.report.fit.reason} | ${placed.report.fit.reason}`,
  );
  assert.equal(shared.report.fit.reason, placed.report.fit.reason);
  assert.match(shared.report.fit.reason, /on each of 2 worker\(s\) under BSP; staleness measured max 0/);
  assert.equal(shared.report.data.sharedData, true);
  assert.equal(shared.report.data.rows, 4000);
  assert.deepStrictEqual(shared.report.engine.parameterServer?.loops, 1);
  // Owners are dealt round-robin by name (a 0, 2; b 1, 3) and slot w of 2 loops over the
  // partitions p mod 2 = w: each worker reads its two partitions from the file, once, 1,000 rows
  // each (the driver's row blocks), and loads nothing from the driver or Redis.
  assert.deepStrictEqual(shared.logs.map(partitionsLoaded), [
    [0, 2],
    [1, 3],
  ]);
  for (const log of shared.logs) {
    assert.equal(
      log.match(/read partition \d of p\d+ from its source for a loop: 1000 rows/g)?.length,
      2,
      log,
    );
    assert.doesNotMatch(log, /loaded partition/);
  }
  // Without --shared-data the same slots load the driver's partitions from it, over its task channel.
  assert.deepStrictEqual(placed.logs.map(partitionsLoaded), [
    [0, 2],
    [1, 3],
  ]);
  assert.match(
    placed.logs[0]!,
    /loaded partition 0 of p\d+ from the driver \(127\.0\.0\.1:\d+\) for a loop: 1000 rows/,
  );
  // The 4,000 encoded rows (8 features + label, float64) are 288,000 bytes; with --shared-data the
  // driver sends the plan, the loop's arguments and its initial parameters, and no partition.
  assert.equal(shared.report.engine.partitionBytesOut, 0);
  assert.ok(shared.report.engine.bytesOut < 20_000, `bytesOut ${shared.report.engine.bytesOut}`);
  assert.ok(placed.report.engine.bytesOut > 288_000, `bytesOut ${placed.report.engine.bytesOut}`);
});

test('with standardization (the default) the models differ only by the last bits of the scaling', async () => {
  // The plan from the workers' summaries merges per-split means and M2 by Chan's formula; from a
  // frame they come from one two-pass sum over all rows. They agree to the last bit or two, so the
  // encoded features, and through 313 SGD steps per slot the coefficients, differ by rounding
  // only: measured here 8.8e-15 (relative to max(1, |w|)); 1e-12 leaves room, while a wrong row,
  // order or plan shows far above it. The plans must differ somewhere, or this test tests nothing.
  const placed = await fit('placed-std', []);
  const shared = await fit('shared-std', ['--shared-data']);
  const worst = worstDifference(shared.tensors, placed.tensors);
  assert.ok(worst <= 1e-12, `largest difference ${worst}`);
  type Steps = { preprocessing: { steps: { center?: number; scale?: number }[] } };
  const steps = (meta: Record<string, unknown>) =>
    (meta as unknown as Steps).preprocessing.steps.map((s) => [s.center, s.scale]);
  assert.notDeepStrictEqual(steps(shared.file.meta), steps(placed.file.meta));
});
