/**
 * Training from a frame on a cluster: the driver sends each partition's rows as the frame holds
 * them (categorical columns as codes, missing values as they are, sample weights beside them) and
 * each worker encodes its own with the preprocessing plan (pipeline/frame-partitions.ts). The
 * model must equal the serial engine's bit for bit. Real redis-server, real worker processes.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { dataset, trainSaved } from '../helpers/cli.ts';
import { startWorker, useCluster } from '../helpers/redis-server.ts';

const fx = useCluster('distml-cluster-frame-');

fx.setup(async () => {
  for (const name of ['f1', 'f2'])
    fx.workers.push(await startWorker(fx.redis.url, ['--name', name, '--namespace', 'frame']));
});

interface Report {
  data: { trainRows: number };
  metrics: Record<string, number>;
  engine: { kind: string; partitionBytesOut: number };
}

test('categorical columns, missing values and sample weights: the workers encode their rows, and the model equals the serial one', async () => {
  // loans.csv has missing numbers (age, income, years_at_job), a missing category (employment) and
  // a quoted one (region); a weight column is added, 1 to 3 by row.
  const text = (await readFile(dataset('loans.csv'), 'utf8')).trimEnd().split('\n');
  const weighted = join(fx.dir, 'loans-weighted.csv');
  await writeFile(
    weighted,
    `${text.map((line, i) => `${line},${i === 0 ? 'w' : 1 + (i % 3)}`).join('\n')}\n`,
  );
  const fit = async (name: string, extra: readonly string[]) => {
    const args = ['--target', 'debt_ratio', '--model', 'ridge', '--sample-weight', 'w', '--partitions', '4'];
    const run = await trainSaved<Report>(fx.dir, name, [weighted, ...args, '--split', 'tail', ...extra]);
    const { coef, intercept } = run.file.tensors;
    return { report: run.report, coef: [...coef!.data], intercept: [...intercept!.data] };
  };
  const serial = await fit('serial', ['--workers', '0']);
  const cluster = await fit('cluster', [
    '--cluster',
    fx.redis.url,
    '--namespace',
    'frame',
    '--min-workers',
    '2',
  ]);
  assert.equal(cluster.report.engine.kind, 'redis');
  assert.deepStrictEqual(cluster.coef, serial.coef);
  assert.deepStrictEqual(cluster.intercept, serial.intercept);
  assert.deepStrictEqual(cluster.report.metrics, serial.report.metrics);
  // Sent as read, not encoded: per row, y, the weight and 3 numeric columns in float64, and 3
  // categorical ones (region, employment, defaulted) as 4-byte codes; one float64 header each.
  const rows = cluster.report.data.trainRows;
  assert.equal(cluster.report.engine.partitionBytesOut, 4 * 8 + rows * (5 * 8 + 3 * 4));
  // The next fit's first task makes each worker drop the two partitions the ended fit left it.
  for (const w of fx.workers) assert.doesNotMatch(w.log(), /dropped the/);
  const again = await fit('again', ['--cluster', fx.redis.url, '--namespace', 'frame', '--min-workers', '2']);
  assert.deepStrictEqual(again.coef, serial.coef);
  for (const w of fx.workers) assert.match(w.log(), /dropped the 2 partition\(s\) of ended run [0-9a-f]+\n/);
  // Their memory is where the new run's partitions were built, zeroed: the model is the same.
  for (const w of fx.workers)
    assert.match(w.log(), /kept \d+\.\d MB of their memory for the partitions of run/);
});

test("a fit built in the memory the last fit left: other rows' categories encoded there give the serial model", async () => {
  // The same rows in reverse: partitions of the same sizes, with their one-hot columns elsewhere, so
  // anything left of the last fit's encoding would change the model.
  const lines = (await readFile(dataset('loans.csv'), 'utf8')).trimEnd().split('\n');
  const reversed = join(fx.dir, 'loans-reversed.csv');
  await writeFile(reversed, `${[lines[0], ...lines.slice(1).reverse()].join('\n')}\n`);
  const args = ['--target', 'debt_ratio', '--model', 'ridge', '--partitions', '4', '--split', 'tail'];
  const cluster = ['--cluster', fx.redis.url, '--namespace', 'frame', '--min-workers', '2'];
  const coef = async (name: string, data: string, extra: readonly string[]) => [
    ...(await trainSaved(fx.dir, name, [data, ...args, ...extra])).file.tensors.coef!.data,
  ];
  await coef('forward', dataset('loans.csv'), cluster);
  const kept = () => fx.workers.map((w) => (w.log().match(/kept \d+\.\d MB/g) ?? []).length);
  const before = kept();
  const onCluster = await coef('reversed-cluster', reversed, cluster);
  assert.deepStrictEqual(
    kept(),
    before.map((n) => n + 1),
    'each worker kept the memory of the last fit',
  );
  assert.deepStrictEqual(onCluster, await coef('reversed-serial', reversed, ['--workers', '0']));
});
