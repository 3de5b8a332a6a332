/**
 * Benchmark: distml's linear models against scikit-learn's in the same run. Fit time only, on
 * generated data both sides read from the same CSV:
 *
 * - classification, 1,000,000 × 50 (`classificationCsv`): logistic-regression (L-BFGS, maxIter=100)
 *   and linear-svc, against LogisticRegression(solver='lbfgs') and LinearSVC (dual=True, the
 *   default of scikit-learn 1.2, and dual=False);
 * - regression, 1,000,000 × 100 (`regressionCsv`): linear-regression against LinearRegression.
 *
 * The last 20% of rows are held out on both sides (`--split tail`). distml runs as the built CLI in
 * a child process, on 2 workers (the figure compared) and on 1 worker and serially for reference,
 * with `--partitions 2` so all three must give the same model; its fit time is the report's
 * `timings.fitSeconds` (preprocessing, placing the data and the solver; not reading the file).
 * scikit-learn runs in Debian's /usr/bin/python3 (bench/linear_sklearn.py), which times only
 * `.fit()` on data already loaded, split and (for the classifiers) standardized. It is skipped with
 * a message when that Python lacks scikit-learn. The runs are interleaved in rounds, one fit of
 * everything per round, so both sides sample the same stretch of machine time.
 *
 *   npm run bench -- linear [--runs K]
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { writeCsv } from '../src/data/csv-writer.ts';
import { generate } from '../src/data/generate.ts';
import { classificationCsv, median } from './csv-read.ts';

const ROOT = new URL('../', import.meta.url).pathname;
const CLI = join(ROOT, 'bin/distml.js');
const CACHE = new URL('./.cache/', import.meta.url).pathname;
const SKLEARN_SCRIPT = new URL('./linear_sklearn.py', import.meta.url).pathname;
/** Debian's interpreter, which has python3-sklearn; never the `python3` first on PATH. */
const PYTHON = '/usr/bin/python3';
const ROWS = 1_000_000;
const TEST_FRACTION = 0.2;
/** A LinearSVC(dual=True) fit slower than this is run in the first round only. */
const DUAL_ONCE_SECONDS = 120;
/** distml's worker counts: 2 is the compared figure, 1 and 0 (serial) are for reference. */
const WORKER_COUNTS = [2, 1, 0] as const;

type Dataset = 'classification' | 'regression';

interface SklearnVariant {
  /** The name bench/linear_sklearn.py knows it by. */
  id: string;
  label: string;
}

interface Case {
  model: 'logistic-regression' | 'linear-svc' | 'linear-regression';
  dataset: Dataset;
  params: string[];
  /** The scikit-learn estimators it is compared with; the first is the headline ratio. */
  sklearn: SklearnVariant[];
  /** The test scores shown side by side. */
  scores: string[];
}

const CASES: Case[] = [
  {
    model: 'logistic-regression',
    dataset: 'classification',
    params: ['C=1', 'maxIter=100', 'tol=0.0001'],
    sklearn: [
      { id: 'logistic', label: 'LogisticRegression(lbfgs, max_iter=100, tol=1e-4)' },
      { id: 'logistic-scaled-tol', label: 'LogisticRegression(lbfgs, max_iter=100, tol=1e-4·n_train)' },
    ],
    scores: ['accuracy', 'logLoss', 'rocAuc'],
  },
  {
    model: 'linear-svc',
    dataset: 'classification',
    params: ['C=1', 'maxIter=1000', 'tol=0.0001'],
    sklearn: [
      { id: 'svc-dual', label: 'LinearSVC(C=1) (dual=True, the 1.2 default)' },
      { id: 'svc-primal', label: 'LinearSVC(C=1, dual=False)' },
    ],
    scores: ['accuracy'],
  },
  {
    model: 'linear-regression',
    dataset: 'regression',
    params: [],
    sklearn: [{ id: 'linreg', label: 'LinearRegression()' }],
    scores: ['r2', 'rmse', 'mae'],
  },
];

/** The cached regression file, made on first use with a fixed seed. */
export async function regressionCsv(rows: number, features: number): Promise<string> {
  mkdirSync(CACHE, { recursive: true });
  const path = join(CACHE, `regression-${rows}x${features}-seed1.csv`);
  if (!existsSync(path)) {
    process.stderr.write(`generating ${path} …\n`);
    await writeCsv(`${path}.tmp`, generate('regression', { rows, features, seed: 1 }));
    renameSync(`${path}.tmp`, path);
  }
  return path;
}

/** One distml training run, read from its `--report`. */
export interface DistmlRun {
  model: string;
  workers: number;
  round: number;
  fitSeconds: number;
  loadSeconds: number;
  iterations: number | null;
  converged: boolean | null;
  reason: string | null;
  finalLoss: number | null;
  passes: number;
  tasks: number;
  kernelSeconds: number;
  engineKind: string;
  inlineReason?: string;
  metrics: Record<string, number>;
  warnings: string[];
}

/** One scikit-learn fit, as bench/linear_sklearn.py printed it. */
export interface SklearnFit {
  model: string;
  settings: string;
  fitSeconds: number;
  nIter: number | null;
  warnings: string[];
  metrics: Record<string, number>;
}

interface SklearnProcess {
  rows: number;
  features: number;
  trainRows: number;
  testRows: number;
  loadSeconds: number;
  loadedFromCache: boolean;
  scalerSeconds?: number;
  versions: Record<string, string>;
  threads: { cpuCount: number; pools: unknown; env: Record<string, string> };
  fits: SklearnFit[];
}

/** The medians of one model's runs on one worker count. */
export interface DistmlSummary {
  workers: number;
  medianFitSeconds: number;
  iterations: number | null;
  passes: number;
  /** Median kernel seconds per partition-pass (one task). */
  medianKernelSecondsPerTask: number;
  runs: number;
  metrics: Record<string, number>;
}

/** The medians of one scikit-learn variant. */
export interface SklearnSummary {
  id: string;
  label: string;
  settings: string;
  medianFitSeconds: number;
  runs: number;
  nIter: number | null;
  warnings: string[];
  metrics: Record<string, number>;
  /** sklearn median fit s / distml 2-worker median fit s: above 1, distml is faster. */
  ratio: number;
  /** The same against distml's serial engine. */
  ratioVsSerial: number;
  /** Goal: distml on 2 workers at most as slow as this (ratio ≥ 1). */
  goalMet: boolean;
}

export interface ModelSummary {
  model: string;
  dataset: Dataset;
  command: string;
  distml: DistmlSummary[];
  /** Whether every distml run (all worker counts) gave the same metrics, iterations and loss. */
  identicalModels: boolean;
  mismatches: string[];
  sklearn: SklearnSummary[];
  scores: string[];
  /** Goal: distml on 2 workers at most as slow as scikit-learn's first (default-settings) variant. */
  goalMet?: boolean;
}

/** Result of the benchmark. */
export interface LinearResult {
  /** What was built: the commit, and the source files that differed from it when the run began. */
  source: { commit: string; dirty: string[] };
  files: Record<Dataset, string>;
  runs: number;
  distmlRuns: DistmlRun[];
  sklearnRuns?: Record<Dataset, SklearnProcess[]>;
  sklearnSkipped?: string;
  sklearn?: {
    python: string;
    versions: Record<string, string>;
    threads: SklearnProcess['threads'];
    medianScalerSeconds?: number;
    svcDualRunOnce?: string;
  };
  summary: ModelSummary[];
  warnings: string[];
  totalSeconds: number;
}

function trainArgs(c: Case, file: string, workers: number, report: string): string[] {
  return [
    'train',
    file,
    '--target',
    c.dataset === 'classification' ? 'label' : 'target',
    '--model',
    c.model,
    ...c.params.flatMap((p) => ['--param', p]),
    '--workers',
    String(workers),
    '--partitions',
    '2',
    '--test-fraction',
    String(TEST_FRACTION),
    '--split',
    'tail',
    '--report',
    report,
    '-q',
  ];
}

interface Report {
  metrics: Record<string, number>;
  fit: { iterations?: number; converged?: boolean; reason?: string; finalLoss?: number; warnings?: string[] };
  timings: { fitSeconds: number; loadSeconds: number };
  engine: { kind: string; passes: number; tasks: number; kernelSeconds: number; inlineReason?: string };
}

function distmlOnce(c: Case, file: string, workers: number, dir: string, round: number): DistmlRun {
  const reportPath = join(dir, `${c.model}-w${workers}-r${round}.json`);
  const child = spawnSync(process.execPath, [CLI, ...trainArgs(c, file, workers, reportPath)], {
    cwd: ROOT,
    encoding: 'utf8',
    maxBuffer: 1 << 24,
  });
  if (child.status !== 0) {
    throw new Error(
      `distml train --model ${c.model} --workers ${workers} exited with ${child.status ?? child.signal}:\n${child.stderr}`,
    );
  }
  const r = JSON.parse(readFileSync(reportPath, 'utf8')) as Report;
  const run: DistmlRun = {
    model: c.model,
    workers,
    round,
    fitSeconds: r.timings.fitSeconds,
    loadSeconds: r.timings.loadSeconds,
    iterations: r.fit.iterations ?? null,
    converged: r.fit.converged ?? null,
    reason: r.fit.reason ?? null,
    finalLoss: r.fit.finalLoss ?? null,
    passes: r.engine.passes,
    tasks: r.engine.tasks,
    kernelSeconds: r.engine.kernelSeconds,
    engineKind: r.engine.kind,
    metrics: r.metrics,
    warnings: r.fit.warnings ?? [],
  };
  if (r.engine.inlineReason !== undefined) run.inlineReason = r.engine.inlineReason;
  process.stderr.write(
    `  distml ${c.model} ${workers === 0 ? 'serial' : `${workers}w`}: fit ${run.fitSeconds.toFixed(2)}s` +
      `${run.iterations === null ? '' : `, ${run.iterations} iterations`}, ${run.passes} passes\n`,
  );
  return run;
}

function sklearnOnce(file: string, target: string, models: string[]): SklearnProcess {
  const child = spawnSync(
    PYTHON,
    [SKLEARN_SCRIPT, file, '--target', target, '--models', models.join(','), '--cache'],
    { cwd: ROOT, encoding: 'utf8', maxBuffer: 1 << 24, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  if (child.status !== 0)
    throw new Error(`${PYTHON} ${relative(ROOT, SKLEARN_SCRIPT)} failed (${child.status})`);
  return JSON.parse(child.stdout) as SklearnProcess;
}

/** The commit built, and the files under src/ that differ from it (other work in progress). */
function sourceState(): LinearResult['source'] {
  const git = (...args: string[]) => spawnSync('git', args, { cwd: ROOT, encoding: 'utf8' }).stdout ?? '';
  const commit = git('log', '-1', '--format=%h %s').trim() || 'unknown';
  const dirty = git('status', '--porcelain', '--', 'src')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => line.slice(3));
  return { commit, dirty };
}

/** Why scikit-learn cannot run, or undefined when it can. */
function sklearnMissing(): string | undefined {
  const probe = spawnSync(PYTHON, ['-c', 'import sklearn, pandas, numpy, scipy'], { encoding: 'utf8' });
  if (probe.error !== undefined) return `${PYTHON} not found (${probe.error.message})`;
  if (probe.status !== 0) {
    const last = probe.stderr.trim().split('\n').at(-1) ?? '';
    return `${PYTHON} cannot import scikit-learn/pandas (${last}); apt-get install python3-sklearn python3-pandas`;
  }
  return undefined;
}

function medianOrNull(xs: Array<number | null>): number | null {
  return xs.some((x) => x === null) ? null : median(xs as number[]);
}

/** Runs the benchmark. Builds the project first so the CLI runs the current source. */
export async function linearBenchmark(options: { runs: number }): Promise<LinearResult> {
  const started = performance.now();
  const source = sourceState();
  process.stderr.write('  npm run build …\n');
  execFileSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
  const files: Record<Dataset, string> = {
    classification: await classificationCsv(ROWS, 50),
    regression: await regressionCsv(ROWS, 100),
  };
  const skipped = sklearnMissing();
  if (skipped !== undefined) process.stderr.write(`  scikit-learn skipped: ${skipped}\n`);

  const dir = mkdtempSync(join(tmpdir(), 'distml-bench-linear-'));
  const distmlRuns: DistmlRun[] = [];
  const sklearnRuns: Record<Dataset, SklearnProcess[]> = { classification: [], regression: [] };
  let dualOnce: string | undefined;
  try {
    for (let round = 1; round <= options.runs; round++) {
      process.stderr.write(`round ${round}/${options.runs}\n`);
      // Rotate the worker counts, and alternate which side goes first, from round to round.
      const counts = WORKER_COUNTS.map((_, i) => WORKER_COUNTS[(i + round - 1) % WORKER_COUNTS.length]!);
      for (const dataset of ['classification', 'regression'] as const) {
        const cases = CASES.filter((c) => c.dataset === dataset);
        const runSklearn = () => {
          if (skipped !== undefined) return;
          const models = cases
            .flatMap((c) => c.sklearn.map((v) => v.id))
            .filter((id) => {
              return !(id === 'svc-dual' && dualOnce !== undefined);
            });
          const p = sklearnOnce(files[dataset], dataset === 'classification' ? 'label' : 'target', models);
          sklearnRuns[dataset].push(p);
          const dual = p.fits.find((f) => f.model === 'svc-dual');
          if (dual !== undefined && dual.fitSeconds > DUAL_ONCE_SECONDS && dualOnce === undefined) {
            dualOnce =
              `LinearSVC(dual=True) took ${dual.fitSeconds.toFixed(0)} s in round ${round} ` +
              `(more than ${DUAL_ONCE_SECONDS} s), so it was fitted in that round only`;
            process.stderr.write(`  ${dualOnce}\n`);
          }
        };
        if (round % 2 === 1) runSklearn();
        for (const c of cases) {
          for (const w of counts) distmlRuns.push(distmlOnce(c, files[dataset], w, dir, round));
        }
        if (round % 2 === 0) runSklearn();
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  const warnings: string[] = [];
  for (const r of distmlRuns) {
    const expected = r.workers === 0 ? 'inline' : 'local';
    if (r.engineKind !== expected) {
      warnings.push(`distml ${r.model} ${r.workers} workers round ${r.round}: engine '${r.engineKind}'`);
    }
    if (r.inlineReason !== undefined) {
      warnings.push(`distml ${r.model} ${r.workers} workers round ${r.round} ran inline: ${r.inlineReason}`);
    }
    for (const w of r.warnings)
      warnings.push(`distml ${r.model} ${r.workers} workers round ${r.round}: ${w}`);
  }

  const summary: ModelSummary[] = CASES.map((c) => {
    const mine = distmlRuns.filter((r) => r.model === c.model);
    const mismatches: string[] = [];
    const ref = mine[0]!;
    for (const r of mine.slice(1)) {
      const where = `${r.workers} workers round ${r.round} vs ${ref.workers} workers round ${ref.round}`;
      if (!isDeepStrictEqual(r.metrics, ref.metrics)) mismatches.push(`${where}: metrics differ`);
      if (r.iterations !== ref.iterations)
        mismatches.push(`${where}: ${r.iterations} vs ${ref.iterations} iterations`);
      if (!Object.is(r.finalLoss, ref.finalLoss)) mismatches.push(`${where}: final loss differs`);
    }
    const distml: DistmlSummary[] = WORKER_COUNTS.map((workers) => {
      const runs = mine.filter((r) => r.workers === workers);
      return {
        workers,
        medianFitSeconds: median(runs.map((r) => r.fitSeconds)),
        iterations: medianOrNull(runs.map((r) => r.iterations)),
        passes: median(runs.map((r) => r.passes)),
        medianKernelSecondsPerTask: median(runs.map((r) => r.kernelSeconds / r.tasks)),
        runs: runs.length,
        metrics: runs[0]!.metrics,
      };
    });
    const two = distml.find((d) => d.workers === 2)!.medianFitSeconds;
    const serial = distml.find((d) => d.workers === 0)!.medianFitSeconds;
    const sklearn: SklearnSummary[] = [];
    if (skipped === undefined) {
      for (const v of c.sklearn) {
        const fits = sklearnRuns[c.dataset].flatMap((p) => p.fits.filter((f) => f.model === v.id));
        if (fits.length === 0) continue;
        const fit = median(fits.map((f) => f.fitSeconds));
        const metrics: Record<string, number> = {};
        for (const k of Object.keys(fits[0]!.metrics)) metrics[k] = median(fits.map((f) => f.metrics[k]!));
        sklearn.push({
          id: v.id,
          label: v.label,
          settings: fits[0]!.settings,
          medianFitSeconds: fit,
          runs: fits.length,
          nIter: medianOrNull(fits.map((f) => f.nIter)),
          warnings: [...new Set(fits.flatMap((f) => f.warnings))],
          metrics,
          ratio: fit / two,
          ratioVsSerial: fit / serial,
          goalMet: fit / two >= 1,
        });
      }
    }
    const s: ModelSummary = {
      model: c.model,
      dataset: c.dataset,
      command: `node bin/distml.js ${trainArgs(c, relative(ROOT, files[c.dataset]), 2, 'REPORT.json').join(' ')}`,
      distml,
      identicalModels: mismatches.length === 0,
      mismatches,
      sklearn,
      scores: c.scores,
    };
    if (sklearn[0] !== undefined) s.goalMet = sklearn[0].ratio >= 1;
    return s;
  });

  const result: LinearResult = {
    source,
    files: {
      classification: relative(ROOT, files.classification),
      regression: relative(ROOT, files.regression),
    },
    runs: options.runs,
    distmlRuns,
    summary,
    warnings,
    totalSeconds: 0,
  };
  if (skipped !== undefined) result.sklearnSkipped = skipped;
  else {
    const first = sklearnRuns.classification[0]!;
    const scaler = sklearnRuns.classification.map((p) => p.scalerSeconds).filter((x) => x !== undefined);
    result.sklearnRuns = sklearnRuns;
    result.sklearn = {
      python: PYTHON,
      versions: first.versions,
      threads: first.threads,
      ...(scaler.length === 0 ? {} : { medianScalerSeconds: median(scaler) }),
      ...(dualOnce === undefined ? {} : { svcDualRunOnce: dualOnce }),
    };
  }
  result.totalSeconds = (performance.now() - started) / 1000;
  return result;
}
