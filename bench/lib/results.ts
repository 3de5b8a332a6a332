/**
 * The JSON a benchmark run writes to bench/results/ and docs/benchmarks.md is generated from.
 * Times are seconds, memory bytes; ratios are not stored, the docs generator computes them.
 */
import type { PeerStatus } from './peers.ts';

/** One system's figures on one workload (medians over `runs`). */
export interface SystemRow {
  /** Stable id within the workload, e.g. `distml-2`, `sklearn`. */
  id: string;
  /** Display name, e.g. `distml, 2 workers`. */
  system: string;
  /** Solver and hyperparameters, as the peer was called. */
  settings?: string;
  /** Median fit seconds. */
  fitSeconds?: number;
  /** Median seconds to predict (and score) the test rows. */
  predictSeconds?: number;
  /** Median wall seconds of the whole process, start to exit (small-data workload). */
  wallSeconds?: number;
  /** Median peak resident set of the process, bytes. */
  peakRssBytes?: number;
  /** Iterations (epochs, rounds) the solver ran. */
  iterations?: number;
  /** Test score; the workload names which. */
  score?: number;
  /** Timed runs behind the medians. */
  runs: number;
  /** Set when this system did not run: why. */
  skipped?: string;
}

/** A workload comparing systems: one table with systems as rows. */
export interface SystemsSection {
  kind: 'systems';
  /** Selection name, e.g. `logistic`. */
  id: string;
  title: string;
  /** What is measured and how, one paragraph per entry. */
  about: string[];
  /** The data, with the command that generates it. */
  data: string;
  /** The command that reproduces this table. */
  command: string;
  /** Which test score `score` is (e.g. `accuracy`, `R²`). */
  scoreName: string;
  /** Which time the ratios compare. */
  timeField: 'fitSeconds' | 'wallSeconds';
  /** Header of the time column when it is not a fit (e.g. `read s`). */
  timeLabel?: string;
  /** Id of the row ratios are taken against. */
  reference: string;
  /** Id of the peer row quoted in the headline, if any. */
  headline?: string;
  rows: SystemRow[];
  /** Warnings about the measurement (models that differ across worker counts, peer warnings). */
  notes: string[];
}

/** One machine limit, measured in C (1 and 2 threads) and in JS (1 thread). */
export interface LimitRow {
  /** e.g. `stream read`, `dot product`, `dense GEMM`. */
  measure: string;
  unit: 'GB/s' | 'GFLOP/s';
  c1?: number;
  c2?: number;
  js1?: number;
  /** What was run, e.g. sizes. */
  detail: string;
}

/** One distml kernel measured on one thread, against the 1-thread limits. */
export interface KernelRow {
  kernel: string;
  shape: string;
  seconds: number;
  /** Bytes of the matrix read per second. */
  bytesPerSecond: number;
  flopsPerSecond: number;
  /** Which limit the kernel is held against: its bytes or its flops. */
  boundBy: 'bandwidth' | 'compute';
}

/** The machine's limits and distml's kernels as fractions of them. */
export interface LimitsSection {
  kind: 'limits';
  id: string;
  title: string;
  about: string[];
  command: string;
  limits: LimitRow[];
  kernels: KernelRow[];
  notes: string[];
}

/** One figure of a measures section, held against its goal when it has one. */
export interface MeasureRow {
  measure: string;
  value: number;
  unit: 'ms' | 's' | '×';
  /** The goal as written in the issue, e.g. `< 50 ms`. */
  goal?: string;
  /** Whether `value` meets `goal`. */
  met?: boolean;
  /** How it was measured: sizes, runs, what the median is over. */
  detail: string;
}

/** Figures of the system itself (the cluster's sync cost and scaling), one row each. */
export interface MeasuresSection {
  kind: 'measures';
  id: string;
  title: string;
  about: string[];
  command: string;
  rows: MeasureRow[];
  notes: string[];
}

/** A section of the report. */
export type Section = SystemsSection | LimitsSection | MeasuresSection;

/** The machine a run measured. */
export interface Machine {
  cpuModel: string;
  cores: number;
  memoryBytes: number;
  node: string;
  platform: string;
  gcc?: string;
  python?: string;
}

/** Everything one run of the suite wrote. */
export interface SuiteResult {
  schema: 1;
  quick: boolean;
  /** The command line of the run. */
  command: string;
  startedAt: string;
  totalSeconds: number;
  /** The workloads the latest run measured, when it did not run them all (the rest are older). */
  ran?: string[];
  /** The commit measured, and whether the tree had uncommitted changes. */
  source: { commit: string; dirty: boolean };
  machine: Machine;
  peers: PeerStatus[];
  sections: Section[];
}
