/**
 * Runs `distml train` (the built CLI, a fresh process per run, as a user runs it) and reads its
 * `--report`: fit and predict seconds, iterations, test scores and engine figures, plus the wall
 * time and peak memory of the process.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { CLI, ROOT } from './datasets.ts';
import { lastLine, runMeasured } from './proc.ts';

/** One `distml train` invocation. */
export interface TrainSpec {
  data: string;
  target: string;
  model: string;
  params: string[];
  /** 0 = the inline engine; omitted = the CLI default (one per core). */
  workers?: number;
  /** Partitions; the same count for every worker count keeps the model bit-identical. */
  partitions?: number;
  testFraction: number;
  /** More arguments, e.g. `--cluster URL --min-workers 2`. */
  extra?: string[];
}

/** What one run measured. */
export interface TrainRun {
  wallSeconds: number;
  peakRssBytes?: number;
  fitSeconds: number;
  predictSeconds: number;
  loadSeconds: number;
  iterations?: number;
  finalLoss?: number;
  metrics: Record<string, number>;
  engine: {
    kind: string;
    passes: number;
    tasks: number;
    kernelSeconds: number;
    overheadSecondsPerPass?: number;
    /** Cluster engine: bytes written to Redis (partitions, arguments) and results read back. */
    bytesOut?: number;
    bytesIn?: number;
    inlineReason?: string;
  };
  warnings: string[];
}

/** The CLI arguments of `spec` (without the report path). */
export function trainArgs(spec: TrainSpec): string[] {
  return [
    'train',
    spec.data,
    '--target',
    spec.target,
    '--model',
    spec.model,
    ...spec.params.flatMap((p) => ['--param', p]),
    ...(spec.workers === undefined ? [] : ['--workers', String(spec.workers)]),
    ...(spec.partitions === undefined ? [] : ['--partitions', String(spec.partitions)]),
    '--split',
    'tail',
    '--test-fraction',
    String(spec.testFraction),
    ...(spec.extra ?? []),
  ];
}

/** `spec` as a user would type it, with paths relative to the repository. */
export function trainCommandLine(spec: TrainSpec): string {
  return `distml ${trainArgs({ ...spec, data: relative(ROOT, spec.data) }).join(' ')}`;
}

interface Report {
  metrics: Record<string, number>;
  fit: { iterations?: number; finalLoss?: number; warnings?: string[] };
  timings: { loadSeconds: number; fitSeconds: number; predictSeconds: number };
  engine: TrainRun['engine'];
}

/** Runs `spec` once. @throws Error with the CLI's last stderr line when it fails */
export function trainOnce(spec: TrainSpec): TrainRun {
  const dir = mkdtempSync(join(tmpdir(), 'distml-bench-report-'));
  const report = join(dir, 'report.json');
  try {
    const run = runMeasured(process.execPath, [CLI, ...trainArgs(spec), '--report', report, '-q'], {
      cwd: ROOT,
    });
    if (run.status !== 0) {
      throw new Error(`${trainCommandLine(spec)} exited with ${run.status}: ${lastLine(run.stderr)}`);
    }
    const r = JSON.parse(readFileSync(report, 'utf8')) as Report;
    return {
      wallSeconds: run.wallSeconds,
      ...(run.peakRssBytes === undefined ? {} : { peakRssBytes: run.peakRssBytes }),
      fitSeconds: r.timings.fitSeconds,
      predictSeconds: r.timings.predictSeconds,
      loadSeconds: r.timings.loadSeconds,
      ...(r.fit.iterations === undefined ? {} : { iterations: r.fit.iterations }),
      ...(r.fit.finalLoss === undefined ? {} : { finalLoss: r.fit.finalLoss }),
      metrics: r.metrics,
      engine: r.engine,
      warnings: r.fit.warnings ?? [],
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
