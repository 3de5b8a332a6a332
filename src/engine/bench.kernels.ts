/**
 * A kernel for measuring the engines themselves rather than a model: `bench.vector` returns a
 * vector of `length` floats that costs almost nothing to compute, so a pass's wall time is the
 * engine's own cost of a reduce of that size (queueing, moving the results, summing them). The
 * cluster benchmark (bench/workloads/cluster.ts) runs it as a 1,000,000-float allreduce.
 */
import type { DesignMatrix } from '../data/design-matrix.ts';
import { type KernelArgs, registerKernel } from './kernel-registry.ts';

/** Registry name of the vector kernel. */
export const BENCH_VECTOR = 'bench.vector';

/** Arguments of {@link BENCH_VECTOR}. */
export interface BenchVectorArgs {
  /** Floats in the result. */
  readonly length: number;
  /**
   * The previous pass's reduced vector, sent back to every worker as an argument the way models
   * send their parameters, so that a pass is a whole allreduce: broadcast, then reduce.
   */
  readonly input?: Float64Array;
}

registerKernel({
  name: BENCH_VECTOR,
  resultLength: (args) => args.length as number,
  // Every element is the partition's row count, so the reduced vector holds the placement's rows
  // in every element: a check that each partition was summed exactly once.
  run(part: DesignMatrix, args: KernelArgs, out: Float64Array): void {
    const input = args.input;
    if (input !== undefined && (!(input instanceof Float64Array) || input.length !== out.length))
      throw new RangeError(`bench.vector: input must be a Float64Array of ${out.length} floats`);
    out.fill(part.rows);
  },
});
