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
