/**
 * `distml worker --threads N`: one process runs up to N tasks at once, each kernel on a thread of
 * its own, and the driver gives it partitions in proportion to N. Real redis-server, real worker
 * processes, `distml train --cluster` as a user runs it. Every logistic regression is compared bit
 * for bit with the serial engine's on the same 6 partitions (the sums are taken in the same fixed
 * order); the SGD model under BSP with the thread engine's `--workers 2`.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { readModelFile } from '../../src/io/model-file.ts';
import { dataset, runCli } from '../helpers/cli.ts';
import {
  LOGISTIC_ON_6,
  partitionsLoaded,
  startWorker,
  useCluster,
  type WorkerProcess,
} from '../helpers/redis-server.ts';
import { assertSameBits } from '../helpers/same-bits.ts';

const fx = useCluster('distml-threads-');

interface Report {
  metrics: Record<string, number>;
  engine: {
    workers: number;
    tasks: number;
    passes: number;
    tasksByWorker: Record<string, number>;
    tasksByThread: Record<string, number>;
    epoch: number;
    partitionsMoved: number;
    tasksRequeued: number;
    partitionsByWorker: Record<string, number>;
  };
}

async function train(name: string, extra: readonly string[]): Promise<{ report: Report; stderr: string }> {
  const path = join(fx.dir, `${name}.json`);
  const r = await runCli([...LOGISTIC_ON_6, '--report', path, ...extra]);
  assert.equal(r.code, 0, r.stderr);
  return { report: JSON.parse(await readFile(path, 'utf8')) as Report, stderr: r.stderr };
}

let serial: Report | undefined;
/** The serial engine's fit on the same partitions, computed once. */
async function serialFit(): Promise<Report> {
  serial ??= (await train('serial', ['--workers', '0'])).report;
  return serial;
}

test('one worker process with --threads 2 trains the serial model, running the tasks of a pass side by side on both threads', async () => {
  const ns = ['--namespace', 'pair'];
  // Its first task waits 1.5 s in the slot it took (slot 0, the lowest free): the other tasks of
  // that pass can only run in slot 1, on the second thread, meanwhile.
  const pool = await startWorker(fx.redis.url, [
    '--name',
    'pool',
    '--threads',
    '2',
    ...ns,
    '--inject-fault',
    'delay:worker=0,task=1,ms=1500',
  ]);
  fx.workers.push(pool);
  assert.match(pool.log(), /worker pool joined \(\d+ cores, 2 threads, id \w+\)/);
  const { report, stderr } = await train('pair', ['--cluster', fx.redis.url, ...ns, '--min-workers', '1']);
  assert.deepStrictEqual(report.metrics, (await serialFit()).metrics);
  const { engine } = report;
  // Two threads are two task slots: the engine counts them as it counts the thread engine's.
  assert.equal(engine.workers, 2);
  assert.match(stderr, /2 workers, \d+ tasks/);
  assert.equal(engine.tasks, engine.passes * 6);
  assert.deepStrictEqual(engine.tasksByWorker, { pool: engine.tasks });
  // Both threads ran kernels, and every task is counted on exactly one of them. A job takes slot
  // 1 only while slot 0 holds another job, so each task on pool#1 ran beside another one.
  assert.deepStrictEqual(Object.keys(engine.tasksByThread).sort(), ['pool#0', 'pool#1']);
  assert.equal(engine.tasksByThread['pool#0']! + engine.tasksByThread['pool#1']!, engine.tasks);
  assert.ok(engine.tasksByThread['pool#1']! >= 1, JSON.stringify(engine.tasksByThread));
  assert.match(pool.log(), /injected fault delay at task 1 /);
  // The process loaded each partition once; its threads read them in place.
  assert.deepStrictEqual(partitionsLoaded(pool.log()), [0, 1, 2, 3, 4, 5]);
  // A second fit: both threads start tasks of the new run at once, and its partitions are built in
  // the memory of the ended run's, whose tasks are all over (partition-memory.ts).
  const again = await train('pair-again', ['--cluster', fx.redis.url, ...ns, '--min-workers', '1']);
  assert.deepStrictEqual(again.report.metrics, (await serialFit()).metrics);
  assert.match(
    pool.log(),
    /dropped the 6 partition\(s\) of ended run \w+\n.*kept \d+\.\d MB of their memory/,
  );
});

test('placement by capacity: a 2-thread worker is given twice the partitions of a 1-thread one', async () => {
  const ns = ['--namespace', 'weights'];
  const big = await startWorker(fx.redis.url, ['--name', 'big', '--threads', '2', ...ns]);
  const small = await startWorker(fx.redis.url, ['--name', 'small', '--threads', '1', ...ns]);
  fx.workers.push(big, small);
  const { report } = await train('weights', ['--cluster', fx.redis.url, ...ns, '--min-workers', '2']);
  assert.deepStrictEqual(report.metrics, (await serialFit()).metrics);
  const { engine } = report;
  assert.equal(engine.workers, 3);
  // Dealt by the quota method over weights 2 and 1 (owner-map.test.ts works it out by hand):
  // big, big, small, big, big, small.
  assert.deepStrictEqual(engine.partitionsByWorker, { big: 4, small: 2 });
  assert.deepStrictEqual(partitionsLoaded(big.log()), [0, 1, 3, 4]);
  assert.deepStrictEqual(partitionsLoaded(small.log()), [2, 5]);
  assert.deepStrictEqual(engine.tasksByWorker, { big: engine.passes * 4, small: engine.passes * 2 });
  assert.equal(engine.tasksByThread['small#0'], engine.passes * 2);
});

test('a 2-thread worker SIGKILLed mid-fit: exactly its partitions move, its tasks are requeued, and the model equals the serial one', async () => {
  const ns = ['--namespace', 'kill2', '--lock-ms', '1500'];
  const victim = await startWorker(fx.redis.url, [
    '--name',
    'victim',
    '--threads',
    '2',
    ...ns,
    '--inject-fault',
    'kill:worker=0,task=12',
  ]);
  fx.workers.push(victim);
  const others: WorkerProcess[] = [];
  for (const name of ['d', 'e']) others.push(await startWorker(fx.redis.url, ['--name', name, ...ns]));
  fx.workers.push(...others);
  const { report, stderr } = await train('kill2', [
    '--cluster',
    fx.redis.url,
    '--namespace',
    'kill2',
    '--min-workers',
    '3',
  ]);
  assert.equal(await victim.exited, 'SIGKILL');
  assert.deepStrictEqual(report.metrics, (await serialFit()).metrics);
  const { engine } = report;
  assert.equal(engine.tasks, engine.passes * 6);
  // Dealt over d, e, victim with weights 1, 1, 2: victim 0, d 1, e 2, victim 3, victim 4, d 5.
  assert.deepStrictEqual(partitionsLoaded(victim.log()), [0, 3, 4]);
  // Its 12th task (the last of its pass 4) kills it. With two slots, the task before it may still
  // have been in flight: each of its tasks 1-11 either completed on it or was requeued, and its
  // 12th was requeued.
  assert.ok(engine.tasksRequeued === 1 || engine.tasksRequeued === 2, `${engine.tasksRequeued} requeued`);
  assert.equal(engine.tasksByWorker.victim! + engine.tasksRequeued, 12);
  assert.match(stderr, /membership epoch 2: worker victim presumed dead \(heartbeat expired\)/);
  // Shares of 6 over d and e: 3 each. d holds 2 and e 1, so e is furthest below: 0 → e; then a
  // tie broken by name: 3 → d; then 4 → e.
  assert.match(stderr, /partitions of p\d+ re-placed: 0 → e, 3 → d, 4 → e/);
  assert.deepStrictEqual(
    others.map((w) => partitionsLoaded(w.log())),
    [
      [1, 3, 5],
      [0, 2, 4],
    ],
  );
  assert.equal(engine.partitionsMoved, 3);
  assert.equal(engine.epoch, 2);
  assert.deepStrictEqual(engine.partitionsByWorker, { d: 3, e: 3 });
});

test('sgd-classifier under BSP on one 2-thread worker equals --workers 2 bit for bit: its two loop slots run side by side', async () => {
  const ns = ['--namespace', 'loops'];
  fx.workers.push(await startWorker(fx.redis.url, ['--name', 'duo', '--threads', '2', ...ns]));
  // digits with a 10% test split is 103,488 training elements: above the thread engine's
  // small-data threshold, so --workers 2 really runs two threads (as in cluster-sgd.test.ts).
  const digits = [
    dataset('digits.csv'),
    '--target',
    'label',
    '--model',
    'sgd-classifier',
    '--test-fraction',
    '0.1',
  ];
  const fit = async (name: string, extra: readonly string[]) => {
    const model = join(fx.dir, `${name}.distml`);
    const report = join(fx.dir, `${name}.json`);
    const r = await runCli(['train', ...digits, ...extra, '--save', model, '--report', report]);
    assert.equal(r.code, 0, r.stderr);
    return {
      report: JSON.parse(await readFile(report, 'utf8')) as Report & { fit: { reason: string } },
      tensors: (await readModelFile(model)).tensors,
    };
  };
  const local = await fit('sgd-local', ['--workers', '2']);
  const remote = await fit('sgd-duo', ['--cluster', fx.redis.url, ...ns, '--min-workers', '1']);
  assertSameBits(
    remote.tensors,
    local.tensors,
    `fits: ${remote.report.fit.reason} | ${local.report.fit.reason}; cluster engine ${JSON.stringify(remote.report.engine)}`,
  );
  assert.deepStrictEqual(remote.report.metrics, local.report.metrics);
  // Two slots (one per thread) under BSP, which waits at every clock for both: they ran at once.
  assert.match(remote.report.fit.reason, /on each of 2 worker\(s\) under BSP/);
  assert.equal(remote.report.engine.workers, 2);
});

test('--threads 0 or a word is a usage error naming the option, exit 2', async () => {
  const refusals = [
    ['0', 'expected a whole number ≥ 1'],
    ['many', 'expected a finite number'],
  ] as const;
  for (const [bad, why] of refusals) {
    const r = await runCli(['worker', '--cluster', fx.redis.url, '--threads', bad]);
    assert.equal(r.code, 2, r.stderr);
    assert.ok(
      r.stderr.includes(`option '--threads <n>' argument '${bad}' is invalid. ${why}, got '${bad}'`),
      r.stderr,
    );
  }
});
