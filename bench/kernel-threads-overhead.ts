/**
 * What a kernel thread costs a cluster worker with one slot: the logistic-regression gradient
 * kernel on one partition of the cluster benchmark's shape (ROWS × 50, default 500,000 rows: half
 * of 1,000,000 × 50, as each of its 2 partitions), run PASSES times (default 20) on the calling
 * thread and through a kernel thread of src/engine/redis/kernel-threads.ts, one task at a time.
 * Prints the median milliseconds per task of each and their difference. Not part of
 * `npm run bench`: `npx tsx bench/kernel-threads-overhead.ts [ROWS] [PASSES]`.
 */
import type { DesignMatrix } from '../src/data/design-matrix.ts';
import { getKernel } from '../src/engine/kernel-registry.ts';
import { startTaskSlots } from '../src/engine/redis/kernel-threads.ts';
import '../src/models/kernels.ts';
import { LOGISTIC_LOSS_GRADIENT } from '../src/models/linear/logistic.kernels.ts';
import { WORKER_ENTRY } from '../src/pipeline/engines.ts';
import { median } from './lib/stats.ts';

const rows = Number(process.argv[2] ?? 500_000);
const passes = Number(process.argv[3] ?? 20);
const cols = 50;
const X = new Float64Array(new SharedArrayBuffer(rows * cols * 8));
const y = new Float64Array(new SharedArrayBuffer(rows * 8));
for (let i = 0; i < X.length; i++) X[i] = Math.sin(i * 0.37);
for (let i = 0; i < rows; i++) y[i] = X[i * cols]! > 0 ? 1 : 0;
const part: DesignMatrix = { rows, cols, X, y };
const held = new Map([['p', part]]);
const length = 1 + cols + 1;
// A fresh coefficient vector per pass, as an optimizer sends one: the thread path shares each once.
const coefOf = (pass: number) => new Float64Array(cols + 1).map((_, j) => 0.01 * Math.cos(pass + j));

const slots = await startTaskSlots({ threads: 2, entry: WORKER_ENTRY, held });
const inline: number[] = [];
const threaded: number[] = [];
try {
  for (let pass = 0; pass < passes; pass++) {
    const args = { coef: coefOf(pass), rowsOfCoef: 1 };
    const a = new Float64Array(length);
    let t = performance.now();
    getKernel(LOGISTIC_LOSS_GRADIENT).run(part, args, a);
    inline.push(performance.now() - t);
    const b = new Float64Array(length);
    t = performance.now();
    await slots.serve((job: object) => slots.run(job, LOGISTIC_LOSS_GRADIENT, part, args, b))({});
    threaded.push(performance.now() - t);
    if (a.some((v, i) => v !== b[i])) throw new Error(`pass ${pass}: the thread's result differs`);
  }
} finally {
  await slots.close();
}
// The first pass of each places the partition and warms the JIT: left out of the medians.
const mi = median(inline.slice(1));
const mt = median(threaded.slice(1));
console.log(`${rows} × ${cols}, ${passes} passes (first left out), same bits on both paths`);
console.log(`calling thread: ${mi.toFixed(2)} ms per task`);
console.log(`kernel thread:  ${mt.toFixed(2)} ms per task (${(mt - mi).toFixed(2)} ms more)`);
