/**
 * Removes the per-worker queues (`NS:tasks-ID`, see placement.ts) of workers that are gone. Nobody
 * but its worker consumes such a queue: a worker that dies while no driver runs (a driver empties
 * the queues of workers it saw die when it closes) would leave its keys in Redis for good. Every
 * worker sweeps once as it joins, so the leftovers last until the next worker starts.
 */
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { ClusterKeys } from './cluster-keys.ts';

/**
 * Obliterates the queue of every worker id that has keys under `NS:tasks-ID:` but no heartbeat,
 * except `self`. Returns the ids whose queues were removed.
 */
export async function removeOrphanQueues(redis: Redis, keys: ClusterKeys, self: string): Promise<string[]> {
  const prefix = `${keys.namespace}:${keys.workerQueue('')}`;
  const ids = new Set<string>();
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    for (const key of batch) {
      const id = key.slice(prefix.length).split(':')[0]!;
      if (id !== '' && id !== self) ids.add(id);
    }
  } while (cursor !== '0');
  const removed: string[] = [];
  for (const id of [...ids].sort()) {
    if ((await redis.exists(keys.worker(id))) === 1) continue;
    const queue = new Queue(keys.workerQueue(id), { connection: redis, prefix: keys.namespace });
    try {
      await queue.obliterate({ force: true });
      removed.push(id);
    } finally {
      await queue.close();
    }
  }
  return removed;
}
