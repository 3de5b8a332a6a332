/**
 * Cluster mode end to end: a real redis-server on a free loopback port, real `distml worker`
 * processes, and `distml train --cluster` as a user runs it.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { dataset, runCli } from '../helpers/cli.ts';
import {
  type RedisServer,
  startRedis,
  startWorker,
  stopChild,
  type WorkerProcess,
} from '../helpers/redis-server.ts';

let redis: RedisServer;
let dir: string;
const workers: WorkerProcess[] = [];
const data = dataset('breast_cancer.csv');
/** `distml train` of a logistic regression on breast_cancer, before the options each test adds. */
const TRAIN = ['train', data, '--target', 'label', '--model', 'logistic-regression'];

before(async () => {
  redis = await startRedis();
  dir = await mkdtemp(join(tmpdir(), 'distml-cluster-'));
});
after(async () => {
  await Promise.all(workers.map((w) => stopChild(w.child)));
  await redis.stop();
  await rm(dir, { recursive: true, force: true });
});

interface Report {
  metrics: Record<string, number>;
  engine: {
    kind: string;
    workers: number;
    tasks: number;
    passes: number;
    retries: number;
    directResults: number;
    tasksByWorker: Record<string, number>;
  };
}

async function train(name: string, extra: readonly string[]): Promise<{ report: Report; stderr: string }> {
  const report = join(dir, `${name}.json`);
  const r = await runCli([...TRAIN, '--split', 'tail', '--partitions', '6', '--report', report, ...extra]);
  assert.equal(r.code, 0, r.stderr);
  return { report: JSON.parse(await readFile(report, 'utf8')) as Report, stderr: r.stderr };
}

test('three worker processes train the same model as the serial engine, one task per partition per pass', async () => {
  for (const name of ['a', 'b', 'c'])
    workers.push(await startWorker(redis.url, ['--name', name, '--namespace', 'plain']));
  const serial = await train('serial', ['--workers', '0']);
  const cluster = await train('cluster', [
    '--cluster',
    redis.url,
    '--namespace',
    'plain',
    '--min-workers',
    '3',
  ]);
  assert.deepStrictEqual(cluster.report.metrics, serial.report.metrics);
  assert.equal(cluster.report.engine.kind, 'redis');
  assert.equal(cluster.report.engine.workers, 3);
  assert.equal(cluster.report.engine.tasks, cluster.report.engine.passes * 6);
  const spread = Object.values(cluster.report.engine.tasksByWorker).reduce((a, b) => a + b, 0);
  assert.equal(spread, cluster.report.engine.tasks);
  // Every result came straight to the driver over the result channel, none through Redis.
  assert.equal(cluster.report.engine.directResults, cluster.report.engine.tasks);
  assert.match(cluster.stderr, /engine: cluster redis:\/\/127\.0\.0\.1:\d+\/?, 3 workers/);
});

test('a worker SIGKILLed mid-fit: its task is recovered by another and the model equals the fault-free one', async () => {
  const ns = ['--namespace', 'kill'];
  const victim = await startWorker(redis.url, [
    '--name',
    'victim',
    ...ns,
    '--lock-ms',
    '1500',
    '--inject-fault',
    'kill:worker=0,task=12',
  ]);
  workers.push(victim);
  for (const name of ['d', 'e'])
    workers.push(await startWorker(redis.url, ['--name', name, ...ns, '--lock-ms', '1500']));
  const serial = await train('serial-kill', ['--workers', '0']);
  const cluster = await train('cluster-kill', ['--cluster', redis.url, ...ns, '--min-workers', '3']);
  assert.equal(await victim.exited, 'SIGKILL');
  assert.deepStrictEqual(cluster.report.metrics, serial.report.metrics);
  assert.ok(cluster.report.engine.retries >= 1, `retries: ${cluster.report.engine.retries}`);
  // Every partition of every pass was applied exactly once, whichever worker ran it.
  assert.equal(cluster.report.engine.tasks, cluster.report.engine.passes * 6);
  assert.equal(cluster.report.engine.tasksByWorker.victim, 11);
});

test('with a cluster secret, unsigned and wrongly signed tasks are refused and counted; the secret never shows', async () => {
  const secret = 'correct-horse-battery-staple-1234';
  const ns = ['--namespace', 'signed'];
  const w = await startWorker(redis.url, ['--name', 'guard', ...ns], { DISTML_CLUSTER_SECRET: secret });
  workers.push(w);
  const base = [...TRAIN, '--cluster', redis.url, ...ns];
  const unsigned = await runCli(base);
  assert.equal(unsigned.code, 1);
  assert.match(unsigned.stderr, /refused: unsigned/);
  const wrongFile = join(dir, 'wrong-secret');
  await writeFile(wrongFile, 'not-the-secret-at-all-0000');
  const wrong = await runCli([...base, '--secret-file', wrongFile]);
  assert.equal(wrong.code, 1);
  assert.match(wrong.stderr, /refused: bad-signature/);
  const goodFile = join(dir, 'secret');
  await writeFile(goodFile, `${secret}\n`);
  const good = await runCli([...base, '--secret-file', goodFile]);
  assert.equal(good.code, 0, good.stderr);
  for (const text of [unsigned.stderr, wrong.stderr, good.stderr, good.stdout, w.log()]) {
    assert.ok(!text.includes(secret) && !text.includes('not-the-secret'), 'a secret was printed');
  }
  assert.match(w.log(), /refused task .*: unsigned/);
  assert.match(w.log(), /refused task .*: bad-signature/);
});

test('too few workers within --join-timeout is a clear failure', async () => {
  const r = await runCli([
    ...TRAIN,
    '--cluster',
    redis.url,
    '--namespace',
    'nobody',
    '--min-workers',
    '2',
    '--join-timeout',
    '1',
  ]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /only 0 of the 2 workers asked for by --min-workers joined within 1 s/);
  assert.match(r.stderr, /distml worker --cluster URL/);
});

test('a wrong Redis password fails clearly, and the password is redacted', async () => {
  const guarded = await startRedis(['--requirepass', 'right-password-42']);
  try {
    const r = await runCli([
      ...TRAIN,
      '--cluster',
      `redis://:wrong-password-17@127.0.0.1:${guarded.port}`,
      '--join-timeout',
      '2',
    ]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /cannot reach Redis at redis:\/\/:\*\*\*@127\.0\.0\.1/);
    assert.ok(!r.stderr.includes('wrong-password-17'));
  } finally {
    await guarded.stop();
  }
});

test('SIGTERM: a worker leaves cleanly, exit 0, and deregisters', async () => {
  const w = await startWorker(redis.url, ['--name', 'leaver', '--namespace', 'leave']);
  w.child.kill('SIGTERM');
  assert.equal(await w.exited, 0);
  assert.match(w.log(), /worker leaver left after 0 tasks/);
  const r = await runCli([...TRAIN, '--cluster', redis.url, '--namespace', 'leave', '--join-timeout', '1']);
  assert.match(r.stderr, /only 0 of the 1 workers/);
});

/** Resolves when `w` has printed a line matching `pattern`. */
async function logged(w: WorkerProcess, pattern: RegExp, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!pattern.test(w.log())) {
    if (Date.now() > deadline) throw new Error(`worker never logged ${pattern}: ${w.log()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('a worker stopped (SIGSTOP) past its lock and continued: its task ran elsewhere, its late result is discarded', async () => {
  const ns = ['--namespace', 'stop', '--lock-ms', '1500'];
  const sleepy = await startWorker(redis.url, [
    '--name',
    'sleepy',
    ...ns,
    '--inject-fault',
    'delay:worker=0,task=4,ms=2500',
  ]);
  workers.push(sleepy);
  for (const name of ['f', 'g']) workers.push(await startWorker(redis.url, ['--name', name, ...ns]));
  const serial = await train('serial-stop', ['--workers', '0']);
  const fit = train('cluster-stop', ['--cluster', redis.url, '--namespace', 'stop', '--min-workers', '3']);
  await logged(sleepy, /injected fault delay at task 4/);
  sleepy.child.kill('SIGSTOP');
  await new Promise((r) => setTimeout(r, 4000));
  sleepy.child.kill('SIGCONT');
  const cluster = await fit;
  await logged(sleepy, /late result discarded|lost the lock of task/);
  assert.deepStrictEqual(cluster.report.metrics, serial.report.metrics);
  assert.equal(cluster.report.engine.tasks, cluster.report.engine.passes * 6);
  assert.ok(cluster.report.engine.retries >= 1);
});

test('Redis losing the run mid-fit stops the fit with a clear error instead of training on from nothing', async () => {
  const ns = ['--namespace', 'lost'];
  const slow = await startWorker(redis.url, [
    '--name',
    'slow',
    ...ns,
    '--inject-fault',
    'delay:worker=0,task=3,ms=3000',
  ]);
  workers.push(slow);
  const run = runCli([...TRAIN, '--cluster', redis.url, ...ns]);
  await logged(slow, /injected fault delay at task 3/);
  const { Redis } = await import('ioredis');
  const client = new Redis(redis.port, '127.0.0.1');
  await client.flushall();
  client.disconnect();
  const r = await run;
  assert.equal(r.code, 1);
  assert.match(r.stderr, /Redis lost the data of run \w+ \(its sentinel key is gone/);
  assert.match(r.stderr, /--resume/);
});

test('an unreachable Redis fails after the join timeout with a clear message', async () => {
  const { freePort } = await import('../helpers/redis-server.ts');
  const port = await freePort();
  const started = Date.now();
  const r = await runCli([...TRAIN, '--cluster', `redis://127.0.0.1:${port}`, '--join-timeout', '2']);
  assert.equal(r.code, 1);
  assert.match(
    r.stderr,
    new RegExp(`cannot reach Redis at redis://127\\.0\\.0\\.1:${port}/?: no answer within 2 s`),
  );
  assert.ok(Date.now() - started < 20_000);
});

test('Redis restarted (with AOF): the workers reconnect and a new fit runs within 30 s', async () => {
  const aofDir = await mkdtemp(join(tmpdir(), 'distml-aof-'));
  const persisted = ['--appendonly', 'yes', '--dir', aofDir];
  let server = await startRedis(persisted);
  const ns = ['--namespace', 'restart'];
  const pair = [
    await startWorker(server.url, ['--name', 'r1', ...ns]),
    await startWorker(server.url, ['--name', 'r2', ...ns]),
  ];
  try {
    await server.stop();
    server = await startRedis(persisted, server.port);
    const restarted = Date.now();
    const r = await runCli([
      ...TRAIN,
      '--cluster',
      server.url,
      ...ns,
      '--min-workers',
      '2',
      '--join-timeout',
      '30',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(Date.now() - restarted < 30_000);
    assert.match(r.stderr, /2 workers, \d+ tasks/);
  } finally {
    await Promise.all(pair.map((w) => stopChild(w.child)));
    await server.stop();
    await rm(aofDir, { recursive: true, force: true });
  }
});

test('a worker that joins mid-fit takes tasks at once, and the model is unchanged', async () => {
  const ns = ['--namespace', 'elastic'];
  const first = await startWorker(redis.url, [
    '--name',
    'first',
    ...ns,
    '--inject-fault',
    'delay:worker=0,task=2,ms=1500',
  ]);
  workers.push(first);
  const serial = await train('serial-elastic', ['--workers', '0']);
  const fit = train('cluster-elastic', ['--cluster', redis.url, ...ns, '--min-workers', '1']);
  await logged(first, /injected fault delay at task 2/);
  workers.push(await startWorker(redis.url, ['--name', 'late', ...ns]));
  const cluster = await fit;
  assert.deepStrictEqual(cluster.report.metrics, serial.report.metrics);
  assert.equal(cluster.report.engine.workers, 1, 'one worker had joined when the fit began');
  assert.ok(
    (cluster.report.engine.tasksByWorker.late ?? 0) > 0,
    JSON.stringify(cluster.report.engine.tasksByWorker),
  );
  assert.equal(cluster.report.engine.tasks, cluster.report.engine.passes * 6);
});

test('worker --threads 2 runs two supervised worker processes, replaces one that dies, and leaves on SIGTERM', async () => {
  const ns = ['--namespace', 'threads'];
  // Every slot carries the fault: each process kills itself at its 30th task, and is replaced.
  const pool = await startWorker(redis.url, [
    '--name',
    'pool',
    '--threads',
    '2',
    ...ns,
    '--lock-ms',
    '1500',
    '--inject-fault',
    'kill:worker=0,task=30',
  ]);
  workers.push(pool);
  const serial = await train('serial-threads', ['--workers', '0']);
  const cluster = await train('cluster-threads', ['--cluster', redis.url, ...ns, '--min-workers', '2']);
  assert.deepStrictEqual(cluster.report.metrics, serial.report.metrics);
  assert.equal(cluster.report.engine.workers, 2);
  assert.deepStrictEqual(Object.keys(cluster.report.engine.tasksByWorker).sort(), ['pool-1', 'pool-2']);
  assert.match(pool.log(), /worker pool-\d died \(SIGKILL\); starting a replacement/);
  pool.child.kill('SIGTERM');
  assert.equal(await pool.exited, 0);
  assert.match(pool.log(), /worker pool-1 left after/);
  assert.match(pool.log(), /worker pool-2 left after/);
});

test('when every worker of a fit dies, the fit stops after --join-timeout instead of waiting for its tasks', async () => {
  const ns = ['--namespace', 'orphan'];
  const only = await startWorker(redis.url, [
    '--name',
    'only',
    ...ns,
    '--inject-fault',
    'kill:worker=0,task=3',
  ]);
  workers.push(only);
  const started = Date.now();
  const r = await runCli([...TRAIN, '--cluster', redis.url, ...ns, '--join-timeout', '4']);
  assert.equal(await only.exited, 'SIGKILL');
  assert.equal(r.code, 1);
  assert.match(r.stderr, /no worker has been alive for 4 s: every worker of this fit left or died/);
  // The heartbeat outlives the worker by its 10 s TTL; then the fit stops within the timeout.
  assert.ok(Date.now() - started < 30_000, `took ${Date.now() - started} ms`);
});
