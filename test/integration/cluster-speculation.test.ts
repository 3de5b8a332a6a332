/**
 * Speculative copies on the cluster (`train --cluster URL --speculation`): a worker that stalls on
 * a task (an injected delay) has that task copied to another worker, whose answer is used; the
 * model is the serial one. Real redis-server, real worker processes.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { runCli } from '../helpers/cli.ts';
import { LOGISTIC_ON_6, partitionsLoaded, startWorker, useCluster } from '../helpers/redis-server.ts';

const fx = useCluster('distml-speculation-');

interface Report {
  metrics: Record<string, number>;
  engine: {
    tasks: number;
    passes: number;
    speculativeCopies: number;
    speculativeWins: number;
    tasksRequeued: number;
  };
}

async function train(name: string, extra: readonly string[]): Promise<{ report: Report; stderr: string }> {
  const report = join(fx.dir, `${name}.json`);
  const r = await runCli([...LOGISTIC_ON_6, '--report', report, ...extra]);
  assert.equal(r.code, 0, r.stderr);
  return { report: JSON.parse(await readFile(report, 'utf8')) as Report, stderr: r.stderr };
}

test('a task stalled on its worker is copied to another, whose answer counts; the model is unchanged', async () => {
  const ns = ['--namespace', 'spec'];
  // a owns partitions 0 and 3; its 4th task (in the second pass) stalls for 8 s.
  const slow = await startWorker(fx.redis.url, [
    '--name',
    'a',
    ...ns,
    '--inject-fault',
    'delay:worker=0,task=4,ms=8000',
  ]);
  const b = await startWorker(fx.redis.url, ['--name', 'b', ...ns]);
  const c = await startWorker(fx.redis.url, ['--name', 'c', ...ns]);
  fx.workers.push(slow, b, c);
  const serial = await train('serial', ['--workers', '0']);
  const cluster = await train('spec', [
    '--cluster',
    fx.redis.url,
    ...ns,
    '--min-workers',
    '3',
    '--speculation',
  ]);
  assert.deepStrictEqual(cluster.report.metrics, serial.report.metrics);
  const e = cluster.report.engine;
  // Every partition counted once per pass, whichever copy answered; nobody was presumed dead.
  assert.equal(e.tasks, e.passes * 6);
  assert.equal(e.tasksRequeued, 0);
  assert.ok(e.speculativeWins >= 1, JSON.stringify(e));
  assert.ok(e.speculativeCopies >= e.speculativeWins);
  assert.match(
    cluster.stderr,
    /task \S+ \(logistic\.\w+ on partition [03]\) runs long: a speculative copy goes to worker b/,
  );
  // b, holding as few partitions as c and first by name, loaded the stalled one from the driver.
  const loaded = partitionsLoaded(b.log());
  assert.ok(loaded.includes(0) || loaded.includes(3), `b loaded ${loaded.join(', ')}`);
  assert.match(cluster.stderr, /speculative copies \(\d+ won\)/);
});

test("copies of one worker's stalled tasks spread over the other workers rather than all landing on one", async () => {
  const ns = ['--namespace', 'spread'];
  // d owns partitions 0 and 3, and both its tasks of the first pass stall for 4 s: each gets a
  // copy, the first on e (as idle as f, first of the two), the second on f (e holds the first).
  const slow = await startWorker(fx.redis.url, [
    '--name',
    'd',
    ...ns,
    '--inject-fault',
    'delay:worker=0,task=1,ms=4000',
    '--inject-fault',
    'delay:worker=0,task=2,ms=4000',
  ]);
  const e = await startWorker(fx.redis.url, ['--name', 'e', ...ns]);
  const f = await startWorker(fx.redis.url, ['--name', 'f', ...ns]);
  fx.workers.push(slow, e, f);
  const serial = await train('serial-spread', ['--workers', '0']);
  const cluster = await train('spread', [
    '--cluster',
    fx.redis.url,
    ...ns,
    '--min-workers',
    '3',
    '--speculation',
  ]);
  assert.deepStrictEqual(cluster.report.metrics, serial.report.metrics);
  const t = cluster.report.engine;
  assert.equal(t.tasks, t.passes * 6);
  // The copies of the first pass's stalled tasks (on a loaded machine, later passes may copy
  // other tasks too: they rotate as well).
  const copies = [
    ...cluster.stderr.matchAll(
      /task \S+-(\d+)-(\d+) \(\S+ on partition \d+\) runs long: a speculative copy goes to worker (\w+)/g,
    ),
  ].map((m) => ({ step: Number(m[1]), partition: Number(m[2]), to: m[3] }));
  const ofD = copies.filter((c) => c.partition === 0 || c.partition === 3);
  const first = ofD.filter((c) => c.step === Math.min(...ofD.map((x) => x.step)));
  assert.deepStrictEqual(first.map((c) => c.partition).sort(), [0, 3]);
  assert.deepStrictEqual(first.map((c) => c.to).sort(), ['e', 'f']);
  assert.ok(t.speculativeCopies >= 2, JSON.stringify(t));
  // Each of e and f loaded a partition of d's for its copy.
  assert.ok(
    partitionsLoaded(e.log()).some((p) => p === 0 || p === 3),
    e.log(),
  );
  assert.ok(
    partitionsLoaded(f.log()).some((p) => p === 0 || p === 3),
    f.log(),
  );
});
