/**
 * Recovery of a cluster fit from the two crashes that are not a worker's: the driver SIGKILLed
 * and rerun with `--resume`, and Redis SIGKILLed and restarted mid-fit from its AOF.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { ROOT, runCli } from '../helpers/cli.ts';
import {
  LOGISTIC_ON_6,
  type RedisServer,
  startRedis,
  startWorker,
  stopChild,
  type WorkerProcess,
} from '../helpers/redis-server.ts';

let dir: string;
const workers: WorkerProcess[] = [];
const servers: RedisServer[] = [];

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'distml-recovery-'));
});
after(async () => {
  await Promise.all(workers.map((w) => stopChild(w.child)));
  for (const s of servers) await s.stop();
  await rm(dir, { recursive: true, force: true });
});

interface Report {
  metrics: Record<string, number>;
  engine: { tasks: number; passes: number; workers: number; tasksByWorker: Record<string, number> };
  fit: { iterations: number; resumedFrom?: number };
}

async function train(name: string, args: readonly string[]): Promise<Report> {
  const path = join(dir, `${name}.json`);
  const r = await runCli([...args, '--report', path]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(await readFile(path, 'utf8')) as Report;
}

test('the driver of a cluster fit SIGKILLed after its first checkpoints: --resume continues and reaches the same model', async () => {
  const redis = await startRedis();
  servers.push(redis);
  const ns = ['--namespace', 'resume'];
  for (const name of ['r1', 'r2']) workers.push(await startWorker(redis.url, ['--name', name, ...ns]));
  const checkpoints = join(dir, 'ckpt');
  // tol=1e-9: 49 L-BFGS iterations, so the fit is far from done at its first checkpoint.
  const args = [...LOGISTIC_ON_6, '--param', 'tol=1e-9', '--cluster', redis.url, ...ns, '--min-workers', '2'];
  const withCheckpoints = [...args, '--checkpoint-dir', checkpoints, '--checkpoint-every', '2'];
  const driver = spawn(process.execPath, [`${ROOT}bin/distml.js`, ...withCheckpoints], { stdio: 'ignore' });
  const exited = new Promise<number | null>((resolve) => driver.on('exit', (code) => resolve(code)));
  for (let waited = 0; !existsSync(join(checkpoints, 'manifest.json')) && waited < 60_000; waited += 10) {
    await new Promise((r) => setTimeout(r, 10));
  }
  driver.kill('SIGKILL');
  assert.equal(await exited, null, 'the driver was killed before it finished');

  const resumedPath = join(dir, 'resumed.json');
  const resumed = await runCli([...withCheckpoints, '--resume', '--report', resumedPath]);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.match(resumed.stderr, /resumed from the checkpoint of iteration \d+/);
  const again = JSON.parse(await readFile(resumedPath, 'utf8')) as Report;
  assert.ok((again.fit.resumedFrom ?? 0) >= 2, `resumed from ${again.fit.resumedFrom}`);
  assert.equal(again.engine.tasks, again.engine.passes * 6);

  const whole = await train('whole', args);
  // The tolerance of the local resume test (test/integration/cli-engine.test.ts): both runs stop on
  // L-BFGS's relative function tolerance from different histories, so the optimum is the same but
  // not to the last bit.
  assert.equal(again.metrics.accuracy, whole.metrics.accuracy);
  const gap = Math.abs(again.metrics.logLoss! - whole.metrics.logLoss!);
  assert.ok(
    gap < 1e-5,
    `log loss ${again.metrics.logLoss} resumed vs ${whole.metrics.logLoss} uninterrupted`,
  );
});

test('Redis SIGKILLed mid-fit and restarted from its AOF (appendfsync always): the fit completes exactly, every worker consumes again', async () => {
  const aof = join(dir, 'aof');
  const persisted = [
    '--appendonly',
    'yes',
    '--appendfsync',
    'always',
    '--dir',
    dir,
    '--appenddirname',
    'aof',
  ];
  let redis = await startRedis(persisted);
  // A crash can lose the reply to a worker's "give me a job": the job sits active under a lock
  // nobody renews until --lock-ms passes and the stalled check hands it on (30 s by default).
  const ns = ['--namespace', 'crash', '--lock-ms', '3000'];
  const names = ['c1', 'c2', 'c3'];
  // c1 sleeps inside its 4th task, so Redis dies while a task is running and others are queued.
  const slow = await startWorker(redis.url, [
    '--name',
    'c1',
    ...ns,
    '--inject-fault',
    'delay:worker=0,task=4,ms=2500',
  ]);
  workers.push(slow);
  for (const name of names.slice(1)) workers.push(await startWorker(redis.url, ['--name', name, ...ns]));
  const serial = await train('serial-crash', [...LOGISTIC_ON_6, '--workers', '0']);
  const fit = train('cluster-crash', [
    ...LOGISTIC_ON_6,
    '--cluster',
    redis.url,
    '--namespace',
    'crash',
    '--min-workers',
    '3',
  ]);
  const deadline = Date.now() + 20_000;
  while (!/injected fault delay at task 4/.test(slow.log())) {
    assert.ok(Date.now() < deadline, `c1 never reached its 4th task: ${slow.log()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  await redis.crash();
  assert.ok(existsSync(aof), 'Redis wrote no AOF');
  redis = await startRedis(persisted, redis.port);
  servers.push(redis);
  const restarted = Date.now();

  const cluster = await fit;
  assert.deepStrictEqual(cluster.metrics, serial.metrics);
  assert.equal(cluster.engine.tasks, cluster.engine.passes * 6);
  // Completed jobs (kept 10 minutes) say which worker finished them and when; they sit in the
  // queue of the worker that owned the partition, or in the shared one.
  const connection = { host: '127.0.0.1', port: redis.port };
  const probe = new Redis(redis.port, '127.0.0.1');
  const queueNames = (await probe.keys('crash:tasks*:completed')).map((k) =>
    k.slice('crash:'.length, -':completed'.length),
  );
  probe.disconnect();
  const queues = queueNames.map((name) => new Queue(name, { connection, prefix: 'crash' }));
  try {
    const done = (await Promise.all(queues.map((q) => q.getJobs(['completed'])))).flat();
    for (const name of names) {
      const after = done.filter((j) => j.returnvalue?.worker === name && (j.finishedOn ?? 0) >= restarted);
      const first = Math.min(...after.map((j) => j.finishedOn!));
      assert.ok(after.length > 0, `worker ${name} finished no task after the restart`);
      assert.ok(
        first - restarted < 30_000,
        `worker ${name} first finished a task ${first - restarted} ms after the restart`,
      );
    }
  } finally {
    await Promise.all(queues.map((q) => q.close()));
  }
});
