/**
 * Under a cluster secret without the task channel (as over `rediss://`), the driver's values go
 * through Redis, where whoever may write to Redis could change them. The signed task message
 * carries each value's SHA-256 (value-digest.ts), and a worker refuses bytes with another one. A
 * real redis-server and a real worker process; the driver through the library.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Redis } from 'ioredis';
import { BENCH_VECTOR } from '../../src/engine/bench.kernels.ts';
import { ClusterKeys } from '../../src/engine/redis/cluster-keys.ts';
import { RedisEngine } from '../../src/engine/redis/redis-engine.ts';
import { startWorker, useCluster } from '../helpers/redis-server.ts';

const SECRET = 'value-digest-test-secret-0123456789';
const NS = 'digest';
const fx = useCluster('distml-value-digest-');

test('under a secret without the channel, values pass their digests, and a partition changed in Redis is refused by name', async () => {
  fx.workers.push(
    await startWorker(fx.redis.url, ['--name', 'checker', '--namespace', NS], {
      DISTML_CLUSTER_SECRET: SECRET,
    }),
  );
  const engine = await RedisEngine.connect({
    url: fx.redis.url,
    namespace: NS,
    minWorkers: 1,
    channel: false,
    secret: Buffer.from(SECRET),
  });
  const redis = new Redis(fx.redis.url);
  try {
    const data = { rows: 6, cols: 1, X: Float64Array.of(1, 2, 3, 4, 5, 6), y: new Float64Array(6) };
    // Untouched values: the arguments and both partitions pass their digests.
    const kept = await engine.distribute(data, { partitions: 2 });
    const input = Float64Array.of(1, 2, 3);
    assert.deepEqual([...(await engine.treeReduce(BENCH_VECTOR, kept, { length: 3, input }))], [6, 6, 6]);

    // The same key, other bytes: a feature value of partition 1 of a new placement, which would
    // otherwise be trained on without a word.
    const changed = await engine.distribute(data, { partitions: 2 });
    const key = new ClusterKeys(NS).partition(engine.runId, changed.id, 1);
    const bytes = await redis.getBuffer(key);
    assert.ok(bytes !== null, `${key} is in Redis`);
    bytes.writeDoubleLE(1e6, 16);
    await redis.set(key, bytes);
    await assert.rejects(engine.treeReduce(BENCH_VECTOR, changed, { length: 3, input }), (err: Error) => {
      assert.match(err.message, new RegExp(`the value ${key} in Redis is not the one the signed task names`));
      return true;
    });
    // The worker's log says it too (its stderr may trail the driver's error a little).
    for (let waited = 0; !/is not the one the signed task names/.test(fx.workers[0]!.log()); waited += 50) {
      assert.ok(waited < 5000, `the worker did not log the refusal: ${fx.workers[0]!.log()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    redis.disconnect();
    await engine.close();
  }
});
