/**
 * Replayed task messages on a cluster with a secret: a signed message put back on the queue, as a
 * new job or under its own id after the original was removed, is refused as `replayed` and counted;
 * retries of the same job (a failed attempt, a stalled one whose worker was SIGKILLed) still run.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { runCli } from '../helpers/cli.ts';
import { LOGISTIC_ON_6, startWorker, useCluster } from '../helpers/redis-server.ts';

const SECRET = 'replay-test-secret-0123456789abcdef';
const NS = 'replay';
const fx = useCluster('distml-replay-');
let secretFile: string;

fx.setup(async () => {
  secretFile = join(fx.dir, 'secret');
  await writeFile(secretFile, SECRET);
});

interface Report {
  metrics: Record<string, number>;
  engine: { tasks: number; passes: number; retries: number; tasksByWorker: Record<string, number> };
}

async function report(name: string, extra: readonly string[]): Promise<Report> {
  const path = join(fx.dir, `${name}.json`);
  const r = await runCli([...LOGISTIC_ON_6, '--report', path, ...extra]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(await readFile(path, 'utf8')) as Report;
}

/** Waits until job `id` has failed for good and returns why. */
async function failedReason(queue: Queue, id: string): Promise<string> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    // State first, then the job: a job read before it failed would carry no reason yet.
    if ((await queue.getJobState(id)) === 'failed') return (await queue.getJob(id))!.failedReason;
    if (Date.now() > deadline) throw new Error(`job ${id} did not fail within 15 s`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('under a secret, a failed attempt and a stalled one (worker SIGKILLed) are retried and the model is exact', async () => {
  const env = { DISTML_CLUSTER_SECRET: SECRET };
  const ns = ['--namespace', NS, '--lock-ms', '1500'];
  const thrower = await startWorker(
    fx.redis.url,
    ['--name', 'thrower', ...ns, '--inject-fault', 'throw:worker=0,task=3'],
    env,
  );
  const victim = await startWorker(
    fx.redis.url,
    ['--name', 'victim', ...ns, '--inject-fault', 'kill:worker=0,task=5'],
    env,
  );
  const steady = await startWorker(fx.redis.url, ['--name', 'steady', ...ns], env);
  fx.workers.push(thrower, victim, steady);
  const serial = await report('serial', ['--workers', '0']);
  const cluster = await report('cluster', [
    '--cluster',
    fx.redis.url,
    '--namespace',
    NS,
    '--secret-file',
    secretFile,
    '--min-workers',
    '3',
  ]);
  assert.equal(await victim.exited, 'SIGKILL');
  assert.match(thrower.log(), /injected fault throw at task 3/);
  assert.deepStrictEqual(cluster.metrics, serial.metrics);
  // Both faults cost an attempt; they may hit the same task (its retry after the throw landing on
  // the victim), so at least one task needed more than one. Had the guard refused a retry as a
  // replay, that task would have failed for good, and the fit with it.
  assert.ok(cluster.engine.retries >= 1, `retries: ${cluster.engine.retries}`);
  for (const w of fx.workers) assert.doesNotMatch(w.log(), /refused task/);
  // Each partition applied once per pass.
  assert.equal(cluster.engine.tasks, cluster.engine.passes * 6);
  const accepted = Object.values(cluster.engine.tasksByWorker).reduce((a, b) => a + b, 0);
  assert.equal(accepted, cluster.engine.tasks);
  assert.equal(cluster.engine.tasksByWorker.victim, 4);
  const client = new Redis(fx.redis.port, '127.0.0.1');
  try {
    assert.equal(await client.get(`${NS}:refused`), null, 'no retry was refused');
  } finally {
    client.disconnect();
  }
});

test('a signed message replayed as a new job, or under its own id after removal, is refused as replayed and counted', async () => {
  const client = new Redis(fx.redis.port, '127.0.0.1');
  // The fit above left its completed jobs (kept for 10 minutes, signed messages included) in the
  // queues of the workers that own the partitions: replay one of those, on that worker's queue.
  const [completed] = await client.keys(`${NS}:tasks-*:completed`);
  assert.ok(completed !== undefined, 'no worker queue holds completed jobs');
  const queueName = completed.slice(NS.length + 1, -':completed'.length);
  const queue = new Queue(queueName, { connection: { host: '127.0.0.1', port: fx.redis.port }, prefix: NS });
  try {
    const [original] = await queue.getJobs(['completed'], 0, 0);
    assert.ok(original?.id !== undefined, 'no completed job to replay');
    assert.equal(typeof original.data.sig, 'string', 'the message was signed');

    const copy = await queue.add(original.name, original.data, { attempts: 1 });
    assert.notEqual(copy.id, original.id);
    assert.equal(await failedReason(queue, copy.id!), 'task message refused: replayed');

    const id = original.id;
    await original.remove();
    await queue.add(original.name, original.data, { jobId: id, attempts: 1 });
    assert.equal(await failedReason(queue, id), 'task message refused: replayed');

    assert.equal(await client.get(`${NS}:refused`), '2');
    assert.deepStrictEqual(await client.hgetall(`${NS}:refused:by-reason`), { replayed: '2' });
    const logs = fx.workers.map((w) => w.log()).join('');
    assert.match(logs, new RegExp(`refused task ${copy.id}: replayed`));
    assert.match(logs, new RegExp(`refused task ${id}: replayed`));
  } finally {
    client.disconnect();
    await queue.close();
  }
});
