import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ArgsCache, type LoadedArgs } from './args-cache.ts';

/** Arguments loaded into `cache`'s memory, as a worker's channel would: `bytes` long, filled with `fill`. */
function loader(cache: ArgsCache, bytes: number, fill: number, count = { loads: 0 }) {
  return async (): Promise<LoadedArgs> => {
    count.loads++;
    const memory = cache.allocate(bytes);
    memory.fill(fill);
    return { args: { fill }, bytes: memory };
  };
}

/** Lets the cache's give-backs (which wait for the load's promise) run. */
const settle = () => new Promise((r) => setImmediate(r));

test('the memory of arguments that left the cache unused is where the next value of its size arrives', async () => {
  const cache = new ArgsCache(2);
  const count = { loads: 0 };
  const [one, two] = await Promise.all([
    cache.acquire('a', loader(cache, 64, 1, count)),
    cache.acquire('a', loader(cache, 64, 9, count)),
  ]);
  assert.equal(count.loads, 1, 'tasks asking at once share one load');
  assert.deepEqual(two.args, { fill: 1 });
  one.release();
  two.release();
  (await cache.acquire('b', loader(cache, 64, 2))).release();
  await settle();
  assert.equal(cache.allocate(64)[0], 0, "'a' is still cached: fresh memory");
  (await cache.acquire('c', loader(cache, 64, 3))).release();
  await settle();
  assert.deepEqual([...cache.keys()], ['b', 'c']);
  const reused = cache.allocate(64);
  assert.deepEqual(
    [...reused.subarray(0, 4)],
    [1, 1, 1, 1],
    "the next 64 bytes are the memory 'a' arrived in",
  );
  assert.equal(cache.allocate(64)[0], 0, 'handed out once');
});

test('arguments pushed out while a task holds them are reused only once it releases them', async () => {
  const cache = new ArgsCache(1);
  let bytesOfA: Buffer | undefined;
  const held = await cache.acquire('a', async () => {
    bytesOfA = cache.allocate(32).fill(7);
    return { args: {}, bytes: bytesOfA };
  });
  (await cache.acquire('b', loader(cache, 32, 2))).release();
  await settle();
  assert.deepEqual([...cache.keys()], ['b']);
  const whileHeld = cache.allocate(32);
  assert.notEqual(whileHeld, bytesOfA, 'held memory is not handed out');
  held.release();
  held.release(); // a second release changes nothing
  await settle();
  assert.equal(cache.allocate(32), bytesOfA, 'released, it is the next 32 bytes');
  assert.notEqual(cache.allocate(32), bytesOfA, 'and it is handed out once');
});

test('arguments asked for again while still held come back without a second load', async () => {
  const cache = new ArgsCache(1);
  const count = { loads: 0 };
  const held = await cache.acquire('a', loader(cache, 16, 3, count));
  (await cache.acquire('b', loader(cache, 16, 4))).release();
  const again = await cache.acquire('a', loader(cache, 16, 5, count));
  assert.equal(count.loads, 1);
  assert.deepEqual(again.args, { fill: 3 });
  held.release();
  again.release();
  await settle();
  assert.deepEqual([...cache.keys()], ['a'], 'back in the cache, so not given back');
});

test('a failed load is not cached, and the next task loads again', async () => {
  const cache = new ArgsCache(2);
  await assert.rejects(
    cache.acquire('a', async () => {
      throw new Error('the driver is gone');
    }),
    /the driver is gone/,
  );
  assert.deepEqual([...cache.keys()], []);
  const held = await cache.acquire('a', loader(cache, 8, 6));
  assert.deepEqual(held.args, { fill: 6 });
  held.release();
});

test('values are shared memory at offset 0, and only such memory is kept for reuse', async () => {
  const cache = new ArgsCache(1);
  const fresh = cache.allocate(24);
  assert.ok(fresh.buffer instanceof SharedArrayBuffer);
  assert.equal(fresh.byteOffset, 0);
  const plain = Buffer.alloc(24);
  (await cache.acquire('a', async () => ({ args: {}, bytes: plain }))).release();
  cache.delete('a');
  await settle();
  assert.notEqual(cache.allocate(24), plain);
});
