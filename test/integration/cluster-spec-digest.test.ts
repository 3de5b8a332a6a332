/**
 * The spec of partitions read from a source (the preprocessing plan; for a score, the model) is a
 * Redis value that signed task messages name by key. Its SHA-256 travels in the signed lineage,
 * so a worker refuses a spec changed in Redis. A real redis-server; the driver's and the worker's
 * functions, without processes.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { UnrecoverableError } from 'bullmq';
import { Redis } from 'ioredis';
import { ClusterKeys } from '../../src/engine/redis/cluster-keys.ts';
import { messageLineage, SpecCache, storeLineage } from '../../src/engine/redis/source-partitions.ts';
import { type RedisServer, startRedis } from '../helpers/redis-server.ts';

let server: RedisServer;
let redis: Redis;

before(async () => {
  server = await startRedis();
  redis = new Redis(server.url, { maxRetriesPerRequest: null });
});

after(async () => {
  redis.disconnect();
  await server.stop();
});

test('a worker reads the spec the signed lineage names, and refuses one changed in Redis', async () => {
  const driver = {
    redis,
    keys: new ClusterKeys('digest'),
    run: 'r1',
    nextStep: () => 1,
    queue: () => Promise.reject(new Error('no tasks here')),
    account: () => {},
    io: <T>(p: Promise<T>) => p,
  };
  const spec = { target: 'label', plan: { steps: [{ kind: 'number', name: 'x', mean: 1.5, scale: 2 }] } };
  const placed = await storeLineage(driver, 'p0', { handlers: 'tabular', splits: [{ start: 0 }], spec });
  const lineage = messageLineage(placed, 0);
  assert.match(lineage.specDigest, /^[0-9a-f]{64}$/);
  assert.deepEqual(await new SpecCache().get(redis, lineage), spec);

  // The same key, other bytes: a poisoned plan would train a wrong model without a word.
  const { Packr } = await import('msgpackr');
  await redis.set(
    lineage.specKey,
    new Packr({ moreTypes: true, useRecords: false }).pack({ ...spec, target: 'other' }),
  );
  await assert.rejects(new SpecCache().get(redis, lineage), (err: Error) => {
    assert.ok(err instanceof UnrecoverableError, String(err));
    assert.match(err.message, /the spec digest:run:r1:spec:p0 in Redis is not the one the signed task names/);
    return true;
  });
});
