/**
 * Redis gone for good, mid-fit: the driver stops with a clear error within its unreachable bound
 * instead of waiting forever for commands ioredis keeps queued, and a worker told to stop while
 * Redis is away leaves on its own. (A regression: both used to hang.)
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RedisEngine } from '../../src/engine/redis/redis-engine.ts';
import '../../src/models/kernels.ts';
import { startRedis, startWorker, stopChild } from '../helpers/redis-server.ts';

test('a fit whose Redis dies for good stops after the unreachable bound, and its worker leaves on SIGTERM', async () => {
  const redis = await startRedis();
  const worker = await startWorker(redis.url, ['--name', 'orphan', '--namespace', 'gone']);
  try {
    const engine = await RedisEngine.connect({
      url: redis.url,
      namespace: 'gone',
      unreachableMs: 2000,
      joinTimeoutMs: 60_000,
    });
    try {
      const rows = 40;
      const X = Float64Array.from({ length: rows * 2 }, (_, i) => (i % 7) - 3);
      const y = Float64Array.from({ length: rows }, (_, i) => i % 2);
      const placed = await engine.distribute({ rows, cols: 2, X, y }, { partitions: 2 });
      const args = { length: 4 };
      // One pass works; then Redis goes away and never comes back.
      assert.deepEqual(await engine.treeReduce('bench.vector', placed, args), new Float64Array(4).fill(rows));
      await redis.stop();
      const started = Date.now();
      await assert.rejects(
        engine.treeReduce('bench.vector', placed, args),
        /Redis at redis:\/\/127\.0\.0\.1:\d+\/? has not answered for 2 s \(check that redis-server runs/,
      );
      // The bound, one watch tick, and slack for a loaded machine.
      assert.ok(Date.now() - started < 10_000, `stopped after ${Date.now() - started} ms`);
    } finally {
      await engine.close();
    }
    const left = Date.now();
    worker.child.kill('SIGTERM');
    const code = await worker.exited;
    assert.equal(code, 0);
    // 10 s without Redis, then it leaves anyway.
    assert.ok(Date.now() - left < 20_000, `the worker took ${Date.now() - left} ms to leave`);
    assert.match(worker.log(), /Redis has not answered for 10 s: leaving without deregistering/);
  } finally {
    await stopChild(worker.child);
    await redis.stop();
  }
});
