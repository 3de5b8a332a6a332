/**
 * Benchmark: reading a 1,000,000 × 50 numeric CSV (plus a label column), distml against
 * pandas.read_csv (Debian's python3-pandas) in the same run. Each run is a fresh process, so peak
 * memory is measured per reader; the median of the runs is reported.
 *
 *   npm run bench -- csv-read [--rows N] [--runs K]
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { writeCsv } from '../src/data/csv-writer.ts';
import { generate } from '../src/data/generate.ts';

/** What one read measured. */
export interface ReadRun {
  seconds: number;
  rows: number;
  columns: number;
  arrayBytes: number;
  baseRss: number;
  peakRss: number;
  version?: string;
}

/** Result of the CSV-reading benchmark. */
export interface CsvReadResult {
  file: string;
  fileBytes: number;
  distml: { runs: ReadRun[]; medianSeconds: number; rowsPerSecond: number; peakOverArrays: number };
  pandas?: {
    runs: ReadRun[];
    medianSeconds: number;
    rowsPerSecond: number;
    peakOverArrays: number;
    version: string;
  };
  pandasSkipped?: string;
  speedupOverPandas?: number;
}

const CACHE = new URL('./.cache/', import.meta.url).pathname;

/** The cached generated file, made on first use with a fixed seed. */
export async function classificationCsv(rows: number, features: number): Promise<string> {
  mkdirSync(CACHE, { recursive: true });
  const path = join(CACHE, `classification-${rows}x${features}-seed1.csv`);
  if (!existsSync(path)) {
    process.stderr.write(`generating ${path} …\n`);
    await writeCsv(path, generate('classification', { rows, features, seed: 1 }));
  }
  return path;
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function summarise(runs: ReadRun[]) {
  const medianSeconds = median(runs.map((r) => r.seconds));
  const rows = runs[0]!.rows;
  // Memory the read added on top of the process it ran in, against the bytes of the result.
  const peakOverArrays = median(runs.map((r) => (r.peakRss - r.baseRss) / r.arrayBytes));
  return { runs, medianSeconds, rowsPerSecond: rows / medianSeconds, peakOverArrays };
}

function python(): string | undefined {
  for (const candidate of ['/usr/bin/python3', 'python3']) {
    try {
      execFileSync(candidate, ['-c', 'import pandas'], { stdio: 'ignore' });
      return candidate;
    } catch {
      // try the next candidate
    }
  }
  return undefined;
}

/** Runs the benchmark. */
export async function csvReadBenchmark(options: {
  rows: number;
  features: number;
  runs: number;
}): Promise<CsvReadResult> {
  const file = await classificationCsv(options.rows, options.features);
  const { statSync } = await import('node:fs');
  const fileBytes = statSync(file).size;
  const child = new URL('./csv-read-child.ts', import.meta.url).pathname;
  const distmlRuns: ReadRun[] = [];
  for (let i = 0; i < options.runs; i++) {
    const out = execFileSync(process.execPath, ['--import', 'tsx', child, file], { encoding: 'utf8' });
    distmlRuns.push(JSON.parse(out) as ReadRun);
    process.stderr.write(`  distml run ${i + 1}: ${distmlRuns.at(-1)!.seconds.toFixed(2)}s\n`);
  }
  const result: CsvReadResult = { file, fileBytes, distml: summarise(distmlRuns) };
  const py = python();
  if (py === undefined) {
    result.pandasSkipped = 'pandas not found (apt-get install python3-pandas)';
    return result;
  }
  const script = new URL('./csv_read_pandas.py', import.meta.url).pathname;
  const pandasRuns: ReadRun[] = [];
  for (let i = 0; i < options.runs; i++) {
    const out = execFileSync(py, [script, file], { encoding: 'utf8' });
    pandasRuns.push(JSON.parse(out) as ReadRun);
    process.stderr.write(`  pandas run ${i + 1}: ${pandasRuns.at(-1)!.seconds.toFixed(2)}s\n`);
  }
  result.pandas = { ...summarise(pandasRuns), version: pandasRuns[0]!.version ?? '?' };
  result.speedupOverPandas = result.pandas.medianSeconds / result.distml.medianSeconds;
  return result;
}
