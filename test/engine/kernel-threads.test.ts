/**
 * The task slots of a cluster worker (src/engine/redis/kernel-threads.ts) without Redis: real
 * kernel threads started from the same entry module as the thread engine's, checked against the
 * same kernel run on the calling thread.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { DesignMatrix } from '../../src/data/design-matrix.ts';
import { getKernel } from '../../src/engine/kernel-registry.ts';
import { startTaskSlots, type TaskSlots } from '../../src/engine/redis/kernel-threads.ts';
import '../../src/models/kernels.ts';
import { LOGISTIC_LOSS_GRADIENT } from '../../src/models/linear/logistic.kernels.ts';
import { WORKER_ENTRY } from '../../src/pipeline/engines.ts';

const held = new Map<string, DesignMatrix>();
let slots: TaskSlots;

before(async () => {
  slots = await startTaskSlots({ threads: 2, entry: WORKER_ENTRY, held });
});
after(async () => {
  await slots.close();
});

/** A 200×3 partition with labels 0/1, from a fixed recurrence (no randomness to seed). */
function partition(shared: boolean): DesignMatrix {
  const rows = 200;
  const cols = 3;
  const alloc = (n: number) =>
    new Float64Array(shared ? new SharedArrayBuffer(n * 8) : new ArrayBuffer(n * 8));
  const X = alloc(rows * cols);
  const y = alloc(rows);
  for (let i = 0; i < rows * cols; i++) X[i] = Math.sin(i * 0.7) * 3;
  for (let i = 0; i < rows; i++) y[i] = X[i * cols]! + X[i * cols + 1]! > 0 ? 1 : 0;
  return { rows, cols, X, y };
}

test('the kernel on a thread gives the bits of the same kernel on the calling thread', async () => {
  const part = slots.shareable(partition(false));
  assert.ok(part.X.buffer instanceof SharedArrayBuffer, 'a private partition is copied to shared memory');
  assert.equal(slots.shareable(part), part, 'a shared one is used as it is');
  held.set('p0', part);
  const args = { coef: new Float64Array([0.3, -0.2, 0.1, 0.05]), rowsOfCoef: 1 };
  const expected = new Float64Array(1 + 4);
  getKernel(LOGISTIC_LOSS_GRADIENT).run(part, args, expected);
  const job = {};
  const answer = await slots.serve(async (j: object) => {
    const out = new Float64Array(expected.length);
    await slots.run(j, LOGISTIC_LOSS_GRADIENT, part, args, out);
    return { out: [...out] };
  })(job);
  assert.deepStrictEqual(answer, { out: [...expected], thread: 0 });
});

test('jobs take the lowest free slot and keep it; a third waits until one is free', async () => {
  const order: string[] = [];
  const gates = new Map<string, () => void>();
  const serve = slots.serve(async (job: { name: string }) => {
    order.push(`start ${job.name}`);
    await new Promise<void>((open) => gates.set(job.name, open));
    order.push(`end ${job.name}`);
    return { name: job.name };
  });
  const a = serve({ name: 'a' });
  const b = serve({ name: 'b' });
  const c = serve({ name: 'c' });
  await new Promise((r) => setTimeout(r, 20));
  assert.deepStrictEqual(order, ['start a', 'start b'], 'c waits: both slots are taken');
  gates.get('b')!();
  assert.deepStrictEqual(await b, { name: 'b', thread: 1 });
  await new Promise((r) => setTimeout(r, 20));
  gates.get('c')!();
  gates.get('a')!();
  assert.deepStrictEqual(await Promise.all([a, c]), [
    { name: 'a', thread: 0 },
    { name: 'c', thread: 1 },
  ]);
  assert.deepStrictEqual(order, ['start a', 'start b', 'end b', 'start c', 'end c', 'end a']);
});

test("a kernel's error on its thread fails the task with the kernel's message", async () => {
  const part = slots.shareable(partition(true));
  await assert.rejects(
    slots.serve((j: object) => slots.run(j, 'logistic.noSuchKernel', part, {}, new Float64Array(1)))({}),
    /unknown kernel 'logistic\.noSuchKernel'/,
  );
});

test('without an entry module, more than one thread is refused naming the option', async () => {
  await assert.rejects(
    startTaskSlots({ threads: 3, entry: undefined, held }),
    /threads: 3 needs the kernel thread entry/,
  );
});
