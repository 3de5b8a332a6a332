/**
 * Cluster mode end to end: a real redis-server on a free loopback port, real `distml worker`
 * processes, and `distml train --cluster` as a user runs it.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { dataset, runCli, startCli } from '../helpers/cli.ts';
import {
  partitionsLoaded,
  startRedis,
  startWorker,
  stopChild,
  useCluster,
  type WorkerProcess,
} from '../helpers/redis-server.ts';

const fx = useCluster('distml-cluster-');
const data = dataset('breast_cancer.csv');
/** `distml train` of a logistic regression on breast_cancer, before the options each test adds. */
const TRAIN = ['train', data, '--target', 'label', '--model', 'logistic-regression'];

interface Report {
  metrics: Record<string, number>;
  data: { trainRows: number; features: number };
  engine: {
    kind: string;
    workers: number;
    tasks: number;
    passes: number;
    retries: number;
    directResults: number;
    partitionBytesOut: number;
    channelFetches: number;
    channelPushes: number;
    tasksByWorker: Record<string, number>;
    epoch: number;
    partitionsMoved: number;
    tasksRequeued: number;
    lateResultsDiscarded: number;
    partitionsByWorker: Record<string, number>;
  };
}

/** The arguments of a 6-partition fit with a report named `name`. */
function trainArgs(name: string, extra: readonly string[]): string[] {
  return [
    ...TRAIN,
    '--split',
    'tail',
    '--partitions',
    '6',
    '--report',
    join(fx.dir, `${name}.json`),
    ...extra,
  ];
}

async function train(name: string, extra: readonly string[]): Promise<{ report: Report; stderr: string }> {
  const r = await runCli(trainArgs(name, extra));
  assert.equal(r.code, 0, r.stderr);
  return { report: await readReport(name), stderr: r.stderr };
}

async function readReport(name: string): Promise<Report> {
  return JSON.parse(await readFile(join(fx.dir, `${name}.json`), 'utf8')) as Report;
}

/** Resolves when `text()` matches `pattern`. */
async function printed(text: () => string, pattern: RegExp, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!pattern.test(text())) {
    if (Date.now() > deadline) throw new Error(`never printed ${pattern}: ${text()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('three worker processes train the same model as the serial engine, each partition loaded once, by its owner', async () => {
  const trio: WorkerProcess[] = [];
  for (const name of ['a', 'b', 'c'])
    trio.push(await startWorker(fx.redis.url, ['--name', name, '--namespace', 'plain']));
  fx.workers.push(...trio);
  const serial = await train('serial', ['--workers', '0']);
  const cluster = await train('cluster', [
    '--cluster',
    fx.redis.url,
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
  // Every result came straight to the driver over the task channel, none through Redis.
  assert.equal(cluster.report.engine.directResults, cluster.report.engine.tasks);
  // Each value left the driver once per worker that used it: each partition once, for its owner,
  // and each pass's arguments once to each of the 3 workers (its second task there reuses them).
  // From the second pass on, the arguments are pushed to the owners as their jobs are queued,
  // unless a worker took its job and asked first.
  const { passes, channelFetches, channelPushes } = cluster.report.engine;
  assert.equal(channelFetches, 6 + 3 * passes);
  assert.ok(channelPushes > 0 && channelPushes <= 3 * (passes - 1), `${channelPushes} pushes`);
  // Each partition left the driver once, for its owner, as the frame holds its rows (float64
  // [rows, y, each numeric column], frame-partitions.ts): the worker encodes them.
  const { trainRows, features } = cluster.report.data;
  assert.equal(cluster.report.engine.partitionBytesOut, 8 * (6 * 1 + trainRows * (features + 1)));
  assert.match(cluster.stderr, /engine: cluster redis:\/\/127\.0\.0\.1:\d+\/?, 3 workers/);
  // Owners are dealt round-robin over the workers sorted by name: a 0,3; b 1,4; c 2,5. Each
  // loads its two partitions from Redis once and runs every task on them.
  assert.deepStrictEqual(
    trio.map((w) => partitionsLoaded(w.log())),
    [
      [0, 3],
      [1, 4],
      [2, 5],
    ],
  );
  assert.deepStrictEqual(cluster.report.engine.partitionsByWorker, { a: 2, b: 2, c: 2 });
  assert.deepStrictEqual(cluster.report.engine.tasksByWorker, {
    a: cluster.report.engine.passes * 2,
    b: cluster.report.engine.passes * 2,
    c: cluster.report.engine.passes * 2,
  });
  assert.equal(cluster.report.engine.epoch, 1);
  assert.equal(cluster.report.engine.partitionsMoved, 0);
});

test('--no-channel moves everything through Redis, --channel-port fixes the port, a taken port is a clear error', async () => {
  const duo: WorkerProcess[] = [];
  for (const name of ['m', 'n'])
    duo.push(await startWorker(fx.redis.url, ['--name', name, '--namespace', 'chan']));
  fx.workers.push(...duo);
  const on = ['--cluster', fx.redis.url, '--namespace', 'chan', '--min-workers', '2'];
  const serial = await train('chan-serial', ['--workers', '0']);
  const viaRedis = await train('chan-redis', [...on, '--no-channel']);
  assert.deepStrictEqual(viaRedis.report.metrics, serial.report.metrics);
  assert.equal(viaRedis.report.engine.directResults, 0);
  assert.equal(viaRedis.report.engine.channelFetches, 0);
  // The same partitions, written to Redis once each instead of sent to their owners.
  const { trainRows, features } = viaRedis.report.data;
  assert.equal(viaRedis.report.engine.partitionBytesOut, 8 * (6 * 1 + trainRows * (features + 1)));
  assert.match(duo[0]!.log(), /loaded partition 0 of p\d+ from Redis/);
  // A port of our choosing: the workers are told it, and fetch from it.
  const holder = createServer();
  await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', () => resolve()));
  const taken = (holder.address() as AddressInfo).port;
  await new Promise<void>((resolve) => holder.close(() => resolve()));
  const fixed = await train('chan-port', [...on, '--channel-port', String(taken)]);
  assert.deepStrictEqual(fixed.report.metrics, serial.report.metrics);
  assert.equal(fixed.report.engine.directResults, fixed.report.engine.tasks);
  assert.match(
    duo[0]!.log(),
    new RegExp(`loaded partition 0 of p\\d+ from the driver \\(127\\.0\\.0\\.1:${taken}\\)`),
  );
  // A port something else holds stops the fit before any work, naming the port and the ways out.
  await new Promise<void>((resolve) => holder.listen(taken, '127.0.0.1', () => resolve()));
  try {
    const r = await runCli(trainArgs('chan-taken', [...on, '--channel-port', String(taken)]));
    assert.equal(r.code, 2, r.stderr);
    assert.match(
      r.stderr,
      new RegExp(`cannot open the task channel on 127\\.0\\.0\\.1:${taken}: .*EADDRINUSE`),
    );
    assert.match(r.stderr, /--no-channel/);
  } finally {
    await new Promise<void>((resolve) => holder.close(() => resolve()));
  }
  const bad = await runCli(trainArgs('chan-bad', [...on, '--channel-port', '70000']));
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--channel-port.*expected a port from 1 to 65535, got '70000'/);
});

test('a worker SIGKILLed mid-fit: exactly its partitions move to the others, its task is requeued, and the model equals the fault-free one', async () => {
  const ns = ['--namespace', 'kill'];
  const victim = await startWorker(fx.redis.url, [
    '--name',
    'victim',
    ...ns,
    '--lock-ms',
    '1500',
    '--inject-fault',
    'kill:worker=0,task=12',
  ]);
  fx.workers.push(victim);
  const others: WorkerProcess[] = [];
  for (const name of ['d', 'e'])
    others.push(await startWorker(fx.redis.url, ['--name', name, ...ns, '--lock-ms', '1500']));
  fx.workers.push(...others);
  const serial = await train('serial-kill', ['--workers', '0']);
  const cluster = await train('cluster-kill', ['--cluster', fx.redis.url, ...ns, '--min-workers', '3']);
  assert.equal(await victim.exited, 'SIGKILL');
  assert.deepStrictEqual(cluster.report.metrics, serial.report.metrics);
  const { engine } = cluster.report;
  // Every partition of every pass was applied exactly once, whichever worker ran it.
  assert.equal(engine.tasks, engine.passes * 6);
  // Sorted by name the owners are d 0,3; e 1,4; victim 2,5. The victim dies at its 12th task, the
  // second of its pass 6; its heartbeat (1.5 s TTL with --lock-ms 1500) expires and its two
  // partitions go to the live workers holding the fewest: 2 → d (a tie, broken by name), 5 → e.
  assert.equal(engine.tasksByWorker.victim, 11);
  assert.match(cluster.stderr, /membership epoch 2: worker victim presumed dead \(heartbeat expired\)/);
  assert.match(cluster.stderr, /partitions of p\d+ re-placed: 2 → d, 5 → e/);
  assert.deepStrictEqual(partitionsLoaded(victim.log()), [2, 5]);
  assert.deepStrictEqual(
    others.map((w) => partitionsLoaded(w.log())),
    [
      [0, 2, 3],
      [1, 4, 5],
    ],
  );
  assert.equal(engine.tasksRequeued, 1, 'the one task the victim held');
  assert.equal(engine.partitionsMoved, 2);
  assert.equal(engine.epoch, 2);
  assert.deepStrictEqual(engine.partitionsByWorker, { d: 3, e: 3 });
  // The driver emptied the dead worker's queue when it closed.
  const { Redis } = await import('ioredis');
  const client = new Redis(fx.redis.port, '127.0.0.1');
  const id = /worker victim joined \(\d+ cores, 1 thread, id (\w+)\)/.exec(victim.log())?.[1];
  assert.ok(id !== undefined, victim.log());
  assert.ok((await client.keys('kill:tasks-*')).length > 0, 'the live workers keep their queues');
  assert.deepStrictEqual(await client.keys(`kill:tasks-${id}:*`), []);
  client.disconnect();
});

test('with a cluster secret, unsigned and wrongly signed tasks are refused and counted; the secret never shows', async () => {
  const secret = 'correct-horse-battery-staple-1234';
  const ns = ['--namespace', 'signed'];
  const w = await startWorker(fx.redis.url, ['--name', 'guard', ...ns], { DISTML_CLUSTER_SECRET: secret });
  fx.workers.push(w);
  const base = [...TRAIN, '--cluster', fx.redis.url, ...ns];
  const unsigned = await runCli(base);
  assert.equal(unsigned.code, 1);
  assert.match(unsigned.stderr, /refused: unsigned/);
  const wrongFile = join(fx.dir, 'wrong-secret');
  await writeFile(wrongFile, 'not-the-secret-at-all-0000');
  const wrong = await runCli([...base, '--secret-file', wrongFile]);
  assert.equal(wrong.code, 1);
  assert.match(wrong.stderr, /refused: bad-signature/);
  const goodFile = join(fx.dir, 'secret');
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
    fx.redis.url,
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

test('a worker returning NaN fails the fit, naming the kernel, partition, step and worker; no model is written', async () => {
  const ns = ['--namespace', 'nan'];
  const poisoned = await startWorker(fx.redis.url, [
    '--name',
    'poisoned',
    ...ns,
    '--inject-fault',
    'nan:worker=0,task=4',
  ]);
  const sound = await startWorker(fx.redis.url, ['--name', 'sound', ...ns]);
  fx.workers.push(poisoned, sound);
  const model = join(fx.dir, 'nan.distml');
  const r = await runCli([
    ...trainArgs('nan', ['--cluster', fx.redis.url, ...ns, '--min-workers', '2', '--save', model]),
  ]);
  assert.equal(r.code, 1, r.stderr);
  // Results are checked as they are summed (tree-combiner.ts): the message still names the task.
  assert.match(
    r.stderr,
    /task logistic\.\w+ on partition \d (\(step \d+, worker poisoned\)) returned NaN at index 0 \(the data or the parameters overflow/,
  );
  await assert.rejects(readFile(model), { code: 'ENOENT' });
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
  const w = await startWorker(fx.redis.url, ['--name', 'leaver', '--namespace', 'leave']);
  w.child.kill('SIGTERM');
  assert.equal(await w.exited, 0);
  assert.match(w.log(), /worker leaver left after 0 tasks/);
  // It emptied its own queue on the way out.
  const { Redis } = await import('ioredis');
  const client = new Redis(fx.redis.port, '127.0.0.1');
  assert.deepStrictEqual(await client.keys('leave:tasks-*'), []);
  client.disconnect();
  const r = await runCli([
    ...TRAIN,
    '--cluster',
    fx.redis.url,
    '--namespace',
    'leave',
    '--join-timeout',
    '1',
  ]);
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

test('a worker stopped (SIGSTOP) until presumed dead, then continued: its partitions and task moved, its late result is discarded by the fence', async () => {
  const ns = ['--namespace', 'stop', '--lock-ms', '1500'];
  const sleepy = await startWorker(fx.redis.url, [
    '--name',
    'sleepy',
    ...ns,
    '--inject-fault',
    'delay:worker=0,task=4,ms=2500',
  ]);
  fx.workers.push(sleepy);
  fx.workers.push(await startWorker(fx.redis.url, ['--name', 'f', ...ns]));
  // g pauses at its 7th task, in the pass after the takeover, so the fit is still running when
  // the stopped worker's late result arrives.
  fx.workers.push(
    await startWorker(fx.redis.url, [
      '--name',
      'g',
      ...ns,
      '--inject-fault',
      'delay:worker=0,task=7,ms=5000',
    ]),
  );
  const serial = await train('serial-stop', ['--workers', '0']);
  const fit = startCli(
    trainArgs('cluster-stop', ['--cluster', fx.redis.url, '--namespace', 'stop', '--min-workers', '3']),
  );
  await logged(sleepy, /injected fault delay at task 4/);
  sleepy.child.kill('SIGSTOP');
  // Stopped, it cannot renew its heartbeat (1.5 s TTL): the driver presumes it dead and moves
  // its partitions (sleepy owned 2 and 5; f and g hold two each) and its task.
  await printed(fit.stderr, /worker sleepy presumed dead \(heartbeat expired\)/);
  await printed(fit.stderr, /partitions of p\d+ re-placed: 2 → f, 5 → g/);
  sleepy.child.kill('SIGCONT');
  const r = await fit.done;
  assert.equal(r.code, 0, r.stderr);
  const cluster = await readReport('cluster-stop');
  // Its job on its own queue completes once it runs again; the driver discards that result.
  assert.match(
    r.stderr,
    /late result discarded: task \S+ \(logistic\.\w+ on partition [25] of p\d+, step \d+\) finished on worker sleepy, presumed dead at epoch 2/,
  );
  assert.equal(cluster.engine.lateResultsDiscarded, 1);
  assert.equal(cluster.engine.tasksRequeued, 1);
  assert.deepStrictEqual(cluster.metrics, serial.report.metrics);
  assert.equal(cluster.engine.tasks, cluster.engine.passes * 6);
});

test('Redis losing the run mid-fit stops the fit with a clear error instead of training on from nothing', async () => {
  const ns = ['--namespace', 'lost'];
  const slow = await startWorker(fx.redis.url, [
    '--name',
    'slow',
    ...ns,
    '--inject-fault',
    'delay:worker=0,task=3,ms=3000',
  ]);
  fx.workers.push(slow);
  const run = runCli([...TRAIN, '--cluster', fx.redis.url, ...ns]);
  await logged(slow, /injected fault delay at task 3/);
  const { Redis } = await import('ioredis');
  const client = new Redis(fx.redis.port, '127.0.0.1');
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

test('a worker that joins mid-fit receives partitions at the next pass boundary, and the model is unchanged', async () => {
  const ns = ['--namespace', 'elastic'];
  const first = await startWorker(fx.redis.url, [
    '--name',
    'first',
    ...ns,
    '--inject-fault',
    'delay:worker=0,task=2,ms=6000',
  ]);
  fx.workers.push(first);
  const serial = await train('serial-elastic', ['--workers', '0']);
  const fit = train('cluster-elastic', ['--cluster', fx.redis.url, ...ns, '--min-workers', '1']);
  await logged(first, /injected fault delay at task 2/);
  const late = await startWorker(fx.redis.url, ['--name', 'late', ...ns]);
  fx.workers.push(late);
  const cluster = await fit;
  assert.deepStrictEqual(cluster.report.metrics, serial.report.metrics);
  const { engine } = cluster.report;
  assert.equal(engine.workers, 1, 'one worker had joined when the fit began');
  assert.match(cluster.stderr, /membership epoch 2: worker late joined/);
  // Balancing 6 partitions over 2 workers moves 3, the highest-numbered, from first to late.
  assert.match(
    cluster.stderr,
    /moved 3 partition\(s\) of p\d+ to balance \(3 → late, 4 → late, 5 → late; now first 3, late 3\)/,
  );
  assert.deepStrictEqual(partitionsLoaded(first.log()), [0, 1, 2, 3, 4, 5]);
  assert.deepStrictEqual(partitionsLoaded(late.log()), [3, 4, 5]);
  assert.equal(engine.partitionsMoved, 3);
  assert.deepStrictEqual(engine.partitionsByWorker, { first: 3, late: 3 });
  assert.ok((engine.tasksByWorker.late ?? 0) > 0, JSON.stringify(engine.tasksByWorker));
  assert.equal(engine.tasks, engine.passes * 6);
});

test('when every worker of a fit dies, the fit stops after --join-timeout instead of waiting for its tasks', async () => {
  const ns = ['--namespace', 'orphan'];
  const only = await startWorker(fx.redis.url, [
    '--name',
    'only',
    ...ns,
    '--inject-fault',
    'kill:worker=0,task=3',
  ]);
  fx.workers.push(only);
  const started = Date.now();
  const r = await runCli([...TRAIN, '--cluster', fx.redis.url, ...ns, '--join-timeout', '4']);
  assert.equal(await only.exited, 'SIGKILL');
  assert.equal(r.code, 1);
  assert.match(r.stderr, /no worker has been alive for 4 s: every worker of this fit left or died/);
  // The heartbeat outlives the worker by its 10 s TTL; then the fit stops within the timeout.
  assert.ok(Date.now() - started < 30_000, `took ${Date.now() - started} ms`);
});
