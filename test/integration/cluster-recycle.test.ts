/**
 * `Engine.recycle`: a pass's result given back to the cluster engine is the memory a later result
 * arrives in over the task channel, and the later results are still right. A real redis-server and
 * a real worker process; the driver through the library.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BENCH_VECTOR } from '../../src/engine/bench.kernels.ts';
import { RedisEngine } from '../../src/engine/redis/redis-engine.ts';
import { startWorker, useCluster } from '../helpers/redis-server.ts';

const NS = 'recycle';
const fx = useCluster('distml-recycle-');

test('a result given back receives a later pass, whose sums are still exact', async () => {
  fx.workers.push(await startWorker(fx.redis.url, ['--name', 'only', '--namespace', NS]));
  const engine = await RedisEngine.connect({ url: fx.redis.url, namespace: NS, minWorkers: 1 });
  try {
    const data = { rows: 6, cols: 1, X: Float64Array.of(1, 2, 3, 4, 5, 6), y: new Float64Array(6) };
    // One partition: the pass's one result is its sum, so the array given back must be the one
    // the next pass returns.
    const one = await engine.distribute(data, { partitions: 1 });
    const first = await engine.treeReduce(BENCH_VECTOR, one, { length: 4 });
    assert.deepEqual([...first], [6, 6, 6, 6]);
    engine.recycle(first);
    const second = await engine.treeReduce(BENCH_VECTOR, one, { length: 4 });
    assert.equal(second, first, 'the second result arrived in the array given back');
    assert.deepEqual([...second], [6, 6, 6, 6]);
    // Not given back: the next pass arrives elsewhere and leaves it alone.
    const third = await engine.treeReduce(BENCH_VECTOR, one, { length: 4 });
    assert.notEqual(third, second);

    // Three partitions of 2 rows: every pass sums to 6 whatever arrays the results land in.
    const three = await engine.distribute(data, { partitions: 3 });
    let previous = await engine.treeReduce(BENCH_VECTOR, three, { length: 1000 });
    for (let pass = 0; pass < 4; pass++) {
      const next = await engine.treeReduce(BENCH_VECTOR, three, { length: 1000, input: previous });
      assert.ok(
        next.every((v) => v === 6),
        `pass ${pass}: every element is the 6 rows`,
      );
      engine.recycle(previous);
      previous = next;
    }
    assert.equal(engine.telemetry().directResults, 1 + 1 + 1 + 3 * 5, 'every result came over the channel');
  } finally {
    await engine.close();
  }
});
