/**
 * Placement by measured speed (`train --cluster`, on by default; `--no-rebalance` turns it off):
 * one of three workers runs every kernel 150 ms longer (`--inject-fault slow:…`), and its
 * partitions move to the other two once three passes have measured it. Real redis-server, real
 * worker processes. The model is the serial engine's bit for bit either way: the driver sums the
 * partitions' results in partition order, whoever computed them.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { Redis } from 'ioredis';
import { ClusterKeys } from '../../src/engine/redis/cluster-keys.ts';
import { HEARTBEAT_EVERY_MS, liveWorkers } from '../../src/engine/redis/membership.ts';
import { readModelFile } from '../../src/io/model-file.ts';
import { runCli } from '../helpers/cli.ts';
import { LOGISTIC_ON_6, startWorker, useCluster } from '../helpers/redis-server.ts';
import { assertSameBits } from '../helpers/same-bits.ts';

const fx = useCluster('distml-capacity-');
const ns = ['--namespace', 'cap'];

interface Report {
  metrics: Record<string, number>;
  engine: {
    tasks: number;
    passes: number;
    tasksByWorker: Record<string, number>;
    tasksRequeued: number;
    partitionsMoved: number;
    movesByReason: Record<string, number>;
    partitionsByWorker: Record<string, number>;
  };
}

interface Fit {
  report: Report;
  stderr: string;
  tensors: Awaited<ReturnType<typeof readModelFile>>['tensors'];
}

async function train(name: string, extra: readonly string[]): Promise<Fit> {
  const report = join(fx.dir, `${name}.json`);
  const model = join(fx.dir, `${name}.distml`);
  const r = await runCli([...LOGISTIC_ON_6, '--report', report, '--save', model, ...extra]);
  assert.equal(r.code, 0, r.stderr);
  return {
    report: JSON.parse(await readFile(report, 'utf8')) as Report,
    stderr: r.stderr,
    tensors: (await readModelFile(model)).tensors,
  };
}

function assertSameModel(a: Fit, b: Fit): void {
  assert.deepStrictEqual(a.report.metrics, b.report.metrics);
  assertSameBits(a.tensors, b.tensors);
}

let serial: Fit | undefined;

fx.setup(async () => {
  // a (first by name) owns partitions 0 and 3, and runs every kernel 150 ms longer.
  fx.workers.push(
    await startWorker(fx.redis.url, ['--name', 'a', ...ns, '--inject-fault', 'slow:worker=0,task=1,ms=150']),
    await startWorker(fx.redis.url, ['--name', 'b', ...ns]),
    await startWorker(fx.redis.url, ['--name', 'c', ...ns]),
  );
  serial = await train('serial', ['--workers', '0']);
});

const clusterArgs = () => ['--cluster', fx.redis.url, ...ns, '--min-workers', '3'];

test('a worker measured slow loses its partitions after three passes; each partition runs once per pass; the model is unchanged', async () => {
  const fit = await train('moved', clusterArgs());
  assertSameModel(fit, serial!);
  const e = fit.report.engine;
  assert.equal(e.tasks, e.passes * 6);
  assert.equal(e.tasksRequeued, 0);
  // Exactly a's two partitions moved, by measured speed, and nothing else moved.
  assert.deepStrictEqual(e.movesByReason, { ownerGone: 0, joined: 0, rebalanced: 2 }, fit.stderr);
  assert.equal(e.partitionsMoved, 2);
  assert.equal(e.partitionsByWorker.a, undefined);
  assert.equal(e.partitionsByWorker.b! + e.partitionsByWorker.c!, 6);
  // a ran its two tasks in the three measured passes (all of one kernel), then none: its figure
  // exists from the second pass, and 300 ms against the others' few ms (tens while their kernels
  // are cold) is a gain at the first two boundaries that have it.
  assert.equal(e.tasksByWorker.a, 6, fit.stderr);
  assert.match(
    fit.stderr,
    /moved 2 partition\(s\) of p0 by measured speed \(0 → [bc], 3 → [bc]; logistic\.\w+ per partition: a [\d.]+ ms, b [\d.]+ ms, c [\d.]+ ms; predicted pass [\d.]+ ms → [\d.]+ ms; now a 0, b \d, c \d\)/,
  );
  assert.match(fit.stderr, /2 partitions moved \(2 by measured speed\)/);
});

test('--no-rebalance keeps the partitions where threads dealt them, with the same model', async () => {
  const fit = await train('kept', [...clusterArgs(), '--no-rebalance']);
  assertSameModel(fit, serial!);
  const e = fit.report.engine;
  assert.equal(e.tasks, e.passes * 6);
  assert.deepStrictEqual(e.movesByReason, { ownerGone: 0, joined: 0, rebalanced: 0 });
  assert.deepStrictEqual(e.partitionsByWorker, { a: 2, b: 2, c: 2 });
  assert.equal(e.tasksByWorker.a, e.passes * 2);
  assert.doesNotMatch(fit.stderr, /by measured speed/);
});

test("heartbeats carry the machine's available memory and the bytes of each worker's partitions", async () => {
  // After the fits above, the workers keep their last run's partitions until a new run starts.
  const redis = new Redis(fx.redis.url);
  try {
    const deadline = Date.now() + 2 * HEARTBEAT_EVERY_MS + 2000;
    let live = await liveWorkers(redis, new ClusterKeys('cap'));
    while (live.some((w) => w.heldBytes === undefined || w.heldBytes === 0) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 250));
      live = await liveWorkers(redis, new ClusterKeys('cap'));
    }
    assert.equal(live.length, 3);
    for (const w of live) {
      assert.ok(w.freeBytes! > 0 && w.freeBytes! <= w.memoryBytes, `${w.name}: freeBytes ${w.freeBytes}`);
      assert.ok(w.heldBytes! > 0, `${w.name}: heldBytes ${w.heldBytes}`);
    }
    // Between them they hold the training matrix once: 455 rows (569 less the tail fifth) of 30
    // features and the target, in float64.
    assert.equal(
      live.reduce((sum, w) => sum + w.heldBytes!, 0),
      455 * 31 * 8,
    );
  } finally {
    redis.disconnect();
  }
});
