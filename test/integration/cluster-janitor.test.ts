/**
 * The per-worker queues of workers that died while no driver ran are removed by the next worker
 * that joins (src/engine/redis/queue-janitor.ts), against a real redis-server.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { ClusterKeys } from '../../src/engine/redis/cluster-keys.ts';
import { removeOrphanQueues } from '../../src/engine/redis/queue-janitor.ts';
import { startWorker, useCluster } from '../helpers/redis-server.ts';

const fx = useCluster('distml-cluster-');
let client: Redis;

fx.setup(async () => {
  client = new Redis(fx.redis.url, { maxRetriesPerRequest: null });
});
after(async () => {
  client.disconnect();
});

/** Keys of worker `id`'s queue in namespace `ns`. */
async function queueKeys(ns: string, id: string): Promise<string[]> {
  return (await client.keys(`${ns}:tasks-${id}:*`)).sort();
}

/** Puts a job on worker `id`'s queue, as a driver does for a partition the worker owns. */
async function queueJobFor(ns: string, id: string): Promise<void> {
  const queue = new Queue(`tasks-${id}`, { connection: client, prefix: ns });
  await queue.add('k', { x: 1 }, { jobId: `j-${id}` });
  await queue.close();
}

test('the queues of gone workers are removed; those of live workers and of the sweeper stay', async () => {
  const keys = new ClusterKeys('jan');
  for (const id of ['aaaaaa', 'bbbbbb', 'cccccc']) await queueJobFor('jan', id);
  // bbbbbb has a heartbeat (alive); cccccc is the sweeper itself.
  await client.set(keys.worker('bbbbbb'), '{}', 'PX', 60_000);
  assert.deepEqual(await removeOrphanQueues(client, keys, 'cccccc'), ['aaaaaa']);
  assert.deepEqual(await queueKeys('jan', 'aaaaaa'), []);
  assert.ok((await queueKeys('jan', 'bbbbbb')).length > 0);
  assert.ok((await queueKeys('jan', 'cccccc')).length > 0);
  // Nothing else is left to sweep.
  assert.deepEqual(await removeOrphanQueues(client, keys, 'cccccc'), []);
});

test('a worker SIGKILLed with no driver running leaves its queue; the next worker to join removes it', async () => {
  const ns = ['--namespace', 'jan2', '--lock-ms', '1500'];
  const doomed = await startWorker(fx.redis.url, ['--name', 'doomed', ...ns]);
  const id = /joined \(.*id ([0-9a-f]+)\)/.exec(doomed.log())?.[1];
  assert.ok(id !== undefined, doomed.log());
  doomed.child.kill('SIGKILL');
  await queueJobFor('jan2', id);
  // Its heartbeat (TTL 1.5 s with --lock-ms 1500) expires.
  const keys = new ClusterKeys('jan2');
  while ((await client.exists(keys.worker(id))) === 1) await new Promise((r) => setTimeout(r, 100));
  assert.ok((await queueKeys('jan2', id)).length > 0);
  const next = await startWorker(fx.redis.url, ['--name', 'next', ...ns]);
  fx.workers.push(next);
  const deadline = Date.now() + 10_000;
  while (!/removed the queue of 1 gone worker/.test(next.log()) && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 100));
  assert.match(next.log(), new RegExp(`removed the queue of 1 gone worker \\(${id}\\)`));
  assert.deepEqual(await queueKeys('jan2', id), []);
});
