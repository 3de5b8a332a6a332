/**
 * The machine's limits, measured in the same run as the workloads: memory bandwidth (a streaming
 * read and a dot product over arrays far larger than the caches) and a dense GEMM rate, in C
 * (bench/limits.c, compiled at run time with gcc when present) and in JS; then distml's own
 * kernels, run on one thread over a matrix far larger than the caches, as fractions of them.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Rng } from '../../src/data/random.ts';
import { getKernel } from '../../src/engine/kernel-registry.ts';
import { LINEAR_NORMAL_EQUATIONS } from '../../src/models/linear/linear.kernels.ts';
import { LOGISTIC_LOSS_GRADIENT } from '../../src/models/linear/logistic.kernels.ts';
import { SVC_LOSS_GRADIENT } from '../../src/models/linear/svc.kernels.ts';
import '../../src/models/kernels.ts';
import type { BenchContext } from '../lib/context.ts';
import { CACHE } from '../lib/datasets.ts';
import type { KernelRow, LimitRow, LimitsSection } from '../lib/results.ts';
import { median } from '../lib/stats.ts';

interface CLimits {
  openmp: boolean;
  streamBytes: number;
  gemmN: number;
  threads: Array<{ threads: number; readGBs: number; dotGBs: number; gemmGflops: number }>;
}

/** Compiles bench/limits.c into the cache (once per source and compiler) and runs it. */
function cLimits(doubles: number, gemmN: number, reps: number, notes: string[]): CLimits | undefined {
  const source = new URL('../limits.c', import.meta.url).pathname;
  const gcc = spawnSync('gcc', ['--version'], { encoding: 'utf8' });
  if (gcc.error !== undefined || gcc.status !== 0) {
    notes.push('C limits skipped: gcc not found (apt-get install gcc); the JS figures stand alone.');
    return undefined;
  }
  const hash = createHash('sha256')
    .update(readFileSync(source))
    .update(gcc.stdout)
    .digest('hex')
    .slice(0, 12);
  const binary = join(CACHE, `limits-${hash}`);
  mkdirSync(CACHE, { recursive: true });
  if (!existsSync(binary)) {
    let built = spawnSync('gcc', ['-O3', '-march=native', '-fopenmp', source, '-o', binary], {
      encoding: 'utf8',
    });
    if (built.status !== 0) {
      notes.push('gcc could not build with OpenMP: C limits are for 1 thread only.');
      built = spawnSync('gcc', ['-O3', '-march=native', source, '-o', binary], { encoding: 'utf8' });
    }
    if (built.status !== 0) {
      notes.push(`C limits skipped: gcc failed (${built.stderr.trim().split('\n').at(-1)}).`);
      return undefined;
    }
  }
  const run = spawnSync(binary, [String(doubles), String(gemmN), String(reps)], { encoding: 'utf8' });
  if (run.status !== 0) {
    notes.push(`C limits skipped: ${binary} failed (${run.stderr.trim()}).`);
    return undefined;
  }
  return JSON.parse(run.stdout) as CLimits;
}

/** numpy's matmul (its BLAS, OpenBLAS on Debian) on 1 and 2 threads, when the interpreter has numpy. */
function blasGemm(ctx: BenchContext, n: number, reps: number, notes: string[]): LimitRow | undefined {
  if (!ctx.peers.sklearn.available) {
    notes.push(`BLAS GEMM skipped: ${ctx.peers.sklearn.reason}`);
    return undefined;
  }
  const code =
    'import sys, time, numpy as np\n' +
    'n, reps = int(sys.argv[1]), int(sys.argv[2])\n' +
    'a = np.random.default_rng(0).standard_normal((n, n)); b = a.T.copy(); a @ b\n' +
    'best = 1e30\n' +
    'for _ in range(reps):\n' +
    '    t = time.perf_counter(); a @ b; best = min(best, time.perf_counter() - t)\n' +
    'print(2 * n ** 3 / best / 1e9)\n';
  const rate = (threads: number) => {
    const env = { ...process.env, OPENBLAS_NUM_THREADS: String(threads), OMP_NUM_THREADS: String(threads) };
    const run = spawnSync(ctx.python, ['-c', code, String(n), String(reps)], { encoding: 'utf8', env });
    return run.status === 0 ? Number(run.stdout.trim()) : undefined;
  };
  const c1 = rate(1);
  const c2 = rate(2);
  if (c1 === undefined) return undefined;
  return {
    measure: 'dense GEMM, numpy BLAS',
    unit: 'GFLOP/s',
    c1,
    ...(c2 === undefined ? {} : { c2 }),
    detail: `${n}² \`a @ b\` in ${ctx.python}, OPENBLAS_NUM_THREADS=1 / 2`,
  };
}

function best(reps: number, f: () => void): number {
  let t = Number.POSITIVE_INFINITY;
  for (let r = 0; r < reps; r++) {
    const start = performance.now();
    f();
    t = Math.min(t, (performance.now() - start) / 1000);
  }
  return t;
}

let sink = 0;

/** Sum with four accumulators, so the loop is bound by loads, not by the latency of one add chain. */
function streamRead(a: Float64Array): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  const n = a.length - (a.length % 4);
  for (let i = 0; i < n; i += 4) {
    s0 += a[i]!;
    s1 += a[i + 1]!;
    s2 += a[i + 2]!;
    s3 += a[i + 3]!;
  }
  return s0 + s1 + s2 + s3;
}

function dot4(a: Float64Array, b: Float64Array): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  const n = a.length - (a.length % 4);
  for (let i = 0; i < n; i += 4) {
    s0 += a[i]! * b[i]!;
    s1 += a[i + 1]! * b[i + 1]!;
    s2 += a[i + 2]! * b[i + 2]!;
    s3 += a[i + 3]! * b[i + 3]!;
  }
  return s0 + s1 + s2 + s3;
}

/** C += A·B (n×n, row-major, n a multiple of 4): 4×4 register blocks, the best plain JS we know. */
// biome-ignore format: the 4×4 block reads as a grid
function gemm(A: Float64Array, B: Float64Array, C: Float64Array, n: number): void {
  for (let i = 0; i < n; i += 4) {
    for (let j = 0; j < n; j += 4) {
      let c00 = 0, c01 = 0, c02 = 0, c03 = 0, c10 = 0, c11 = 0, c12 = 0, c13 = 0;
      let c20 = 0, c21 = 0, c22 = 0, c23 = 0, c30 = 0, c31 = 0, c32 = 0, c33 = 0;
      for (let k = 0; k < n; k++) {
        const b = k * n + j;
        const b0 = B[b]!;
        const b1 = B[b + 1]!;
        const b2 = B[b + 2]!;
        const b3 = B[b + 3]!;
        const a0 = A[i * n + k]!;
        const a1 = A[(i + 1) * n + k]!;
        const a2 = A[(i + 2) * n + k]!;
        const a3 = A[(i + 3) * n + k]!;
        c00 += a0 * b0; c01 += a0 * b1; c02 += a0 * b2; c03 += a0 * b3;
        c10 += a1 * b0; c11 += a1 * b1; c12 += a1 * b2; c13 += a1 * b3;
        c20 += a2 * b0; c21 += a2 * b1; c22 += a2 * b2; c23 += a2 * b3;
        c30 += a3 * b0; c31 += a3 * b1; c32 += a3 * b2; c33 += a3 * b3;
      }
      const r0 = i * n + j;
      const r1 = r0 + n;
      const r2 = r1 + n;
      const r3 = r2 + n;
      C[r0]! += c00; C[r0 + 1]! += c01; C[r0 + 2]! += c02; C[r0 + 3]! += c03;
      C[r1]! += c10; C[r1 + 1]! += c11; C[r1 + 2]! += c12; C[r1 + 3]! += c13;
      C[r2]! += c20; C[r2 + 1]! += c21; C[r2 + 2]! += c22; C[r2 + 3]! += c23;
      C[r3]! += c30; C[r3 + 1]! += c31; C[r3 + 2]! += c32; C[r3 + 3]! += c33;
    }
  }
}

function filled(n: number, rng: Rng): Float64Array {
  const a = new Float64Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.normal();
  return a;
}

/** Times one pass of a registered kernel over an n×d matrix (median of `reps`). */
function kernelPass(
  name: string,
  n: number,
  d: number,
  args: Record<string, unknown>,
  reps: number,
  rng: Rng,
) {
  const kernel = getKernel(name);
  const X = filled(n * d, rng);
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) y[i] = rng.next() < 0.5 ? 0 : 1;
  const part = { rows: n, cols: d, X, y };
  const out = new Float64Array(kernel.resultLength(args as never, d));
  kernel.run(part, args as never, out); // warm-up: compile before timing
  const times: number[] = [];
  for (let r = 0; r < reps; r++) {
    out.fill(0);
    const start = performance.now();
    kernel.run(part, args as never, out);
    times.push((performance.now() - start) / 1000);
  }
  sink += out[0]!;
  return median(times);
}

/** Measures the limits and the kernels. */
export function limitsWorkload(ctx: BenchContext): LimitsSection {
  const notes: string[] = [];
  // 256 MiB arrays (64 MiB quick): far beyond any L3 of this class of machine.
  const doubles = ctx.quick ? 8 * 2 ** 20 : 32 * 2 ** 20;
  const gemmN = ctx.quick ? 256 : 1024;
  const reps = ctx.quick ? 3 : 5;
  const c = cLimits(doubles, gemmN, reps, notes);
  const rng = new Rng(7);
  const a = filled(doubles, rng);
  const b = filled(doubles, rng);
  const read = best(reps, () => (sink += streamRead(a)));
  const dotSeconds = best(reps, () => (sink += dot4(a, b)));
  const gn = ctx.quick ? 256 : 512;
  const A = filled(gn * gn, rng);
  const B = filled(gn * gn, rng);
  const Cm = new Float64Array(gn * gn);
  const gemmSeconds = best(reps, () => gemm(A, B, Cm, gn));
  sink += Cm[0]!;
  const c1 = c?.threads.find((t) => t.threads === 1);
  const c2 = c?.threads.find((t) => t.threads === 2);
  const bytes = doubles * 8;
  const mib = (x: number) => `${(x / 2 ** 20).toFixed(0)} MiB`;
  const limits: LimitRow[] = [
    {
      measure: 'stream read',
      unit: 'GB/s',
      ...(c1 === undefined ? {} : { c1: c1.readGBs }),
      ...(c2 === undefined ? {} : { c2: c2.readGBs }),
      js1: bytes / read / 1e9,
      detail: `sum of a ${mib(bytes)} Float64Array`,
    },
    {
      measure: 'dot product',
      unit: 'GB/s',
      ...(c1 === undefined ? {} : { c1: c1.dotGBs }),
      ...(c2 === undefined ? {} : { c2: c2.dotGBs }),
      js1: (2 * bytes) / dotSeconds / 1e9,
      detail: `two ${mib(bytes)} arrays`,
    },
    {
      measure: 'dense GEMM',
      unit: 'GFLOP/s',
      ...(c1 === undefined ? {} : { c1: c1.gemmGflops }),
      ...(c2 === undefined ? {} : { c2: c2.gemmGflops }),
      js1: (2 * gn ** 3) / gemmSeconds / 1e9,
      detail: `C: ${c?.gemmN ?? '—'}² cache-blocked, gcc -O3 -march=native; JS: ${gn}² 4×4 register blocks`,
    },
  ];

  const blas = blasGemm(ctx, gemmN, reps, notes);
  if (blas !== undefined) limits.push(blas);

  // distml's kernels, on one thread, as the engine runs them on one partition.
  const kernels: KernelRow[] = [];
  const n = ctx.quick ? 50_000 : 400_000;
  for (const name of [LOGISTIC_LOSS_GRADIENT, SVC_LOSS_GRADIENT]) {
    const d = 50;
    const coef = filled(d + 1, rng).map((v) => v * 0.1);
    const s = kernelPass(name, n, d, { coef, rowsOfCoef: 1 }, reps, rng);
    kernels.push({
      kernel: name,
      shape: `${n.toLocaleString('en-US')} × ${d}`,
      seconds: s,
      bytesPerSecond: (n * (d + 1) * 8) / s,
      // a dot product and an axpy per row: 2d multiply-adds
      flopsPerSecond: (4 * n * d) / s,
      boundBy: 'bandwidth',
    });
  }
  {
    const d = 100;
    const rows = n / 2;
    const s = kernelPass(LINEAR_NORMAL_EQUATIONS, rows, d, {}, reps, rng);
    kernels.push({
      kernel: LINEAR_NORMAL_EQUATIONS,
      shape: `${rows.toLocaleString('en-US')} × ${d}`,
      seconds: s,
      bytesPerSecond: (rows * (d + 1) * 8) / s,
      // the upper triangle of XᵀX (d(d+1)/2 multiply-adds per row), Xᵀy and the column sums
      flopsPerSecond: (rows * (d * (d + 1) + 3 * d)) / s,
      boundBy: 'compute',
    });
  }
  if (sink === 0.123456789) notes.push(''); // keeps `sink` observable so no loop is optimized away
  return {
    kind: 'limits',
    id: 'limits',
    title: "The machine's limits, and distml's kernels against them",
    about: [
      'Each limit is the best of several repetitions. The bandwidth figures read arrays far larger than the ' +
        'caches, so they are bounded by memory; the dense GEMM figure is bounded by arithmetic. The kernels are ' +
        "distml's own, run on one thread over one partition as the engine runs them. The logistic and SVC passes are held " +
        'against the 1-thread stream read (each reads every byte of the matrix once), the XᵀX pass against the ' +
        "1-thread GEMM rate (it is a syrk), and against the GEMM of numpy's BLAS, the real ceiling of " +
        'this core. The C and JS GEMMs are plain blocked loops: a kernel can beat them (over 100%).',
    ],
    command: ctx.commandFor('limits'),
    limits,
    kernels,
    notes,
  };
}
