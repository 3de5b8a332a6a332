/**
 * Small data: the whole `distml train` process (start, read, fit, score, exit) on the bundled iris
 * and breast-cancer files, against a Python process that imports pandas and scikit-learn, reads,
 * fits and scores. On files this small the fixed costs (starting Node or Python, loading modules,
 * starting the engine) are most of the time, and this table keeps them visible.
 */
import { join } from 'node:path';
import type { BenchContext } from '../lib/context.ts';
import { ROOT } from '../lib/datasets.ts';
import { trainCommandLine, trainOnce } from '../lib/distml-cli.ts';
import { lastLine, runMeasured } from '../lib/proc.ts';
import type { SystemRow, SystemsSection } from '../lib/results.ts';
import { median } from '../lib/stats.ts';

const FILES = [
  { name: 'iris', file: 'data/iris.csv', rows: 150 },
  { name: 'breast_cancer', file: 'data/breast_cancer.csv', rows: 569 },
] as const;

/** One section per bundled file. */
export function smallWorkloads(ctx: BenchContext): SystemsSection[] {
  // Small processes are quick and noisy: at least 5 runs even in a quick suite.
  const runs = Math.max(5, ctx.runs);
  return FILES.map((f) => {
    const spec = {
      data: join(ROOT, f.file),
      target: 'label',
      model: 'logistic-regression',
      params: [],
      testFraction: 0.2,
    };
    const rows: SystemRow[] = [];
    const distml = [];
    for (let i = 0; i < runs; i++) distml.push(trainOnce(spec));
    const peaks = distml.map((r) => r.peakRssBytes).filter((x) => x !== undefined);
    rows.push({
      id: 'distml',
      system: 'distml CLI',
      settings: `\`${trainCommandLine(spec)}\``,
      wallSeconds: median(distml.map((r) => r.wallSeconds)),
      fitSeconds: median(distml.map((r) => r.fitSeconds)),
      predictSeconds: median(distml.map((r) => r.predictSeconds)),
      ...(peaks.length === 0 ? {} : { peakRssBytes: median(peaks) }),
      ...(distml[0]!.iterations === undefined ? {} : { iterations: distml[0]!.iterations }),
      score: median(distml.map((r) => r.metrics.accuracy ?? Number.NaN)),
      runs,
    });
    process.stderr.write(`    distml CLI on ${f.name}: ${rows[0]!.wallSeconds!.toFixed(2)}s wall\n`);
    rows.push(sklearnRow(ctx, f.file, runs));
    return {
      kind: 'systems',
      id: `small-${f.name}`,
      title: `Small data: ${f.name} (${f.rows} rows), whole process`,
      about: [
        'Wall time of one whole process, from start to exit, as a user runs it: distml is the built CLI ' +
          '(logistic regression with its defaults: L-BFGS, C = 1, standardized, the default worker count, which ' +
          'keeps data this small on the main thread); the Python process imports pandas and scikit-learn, ' +
          'reads the file, standardizes, fits LogisticRegression() with its defaults and scores. Both hold out ' +
          'the last 20% of rows. The fit column is the fit alone, timed inside each process.',
      ],
      data: `\`${f.file}\`, bundled with the repository.`,
      command: ctx.commandFor('small'),
      scoreName: 'test accuracy',
      timeField: 'wallSeconds',
      reference: 'distml',
      headline: 'sklearn',
      rows,
      notes: [],
    };
  });
}

function sklearnRow(ctx: BenchContext, file: string, runs: number): SystemRow {
  const status = ctx.peers.sklearn;
  if (!status.available) return { id: 'sklearn', system: 'scikit-learn', runs: 0, skipped: status.reason! };
  if (!ctx.peers.pandas.available) {
    return { id: 'sklearn', system: 'scikit-learn', runs: 0, skipped: ctx.peers.pandas.reason! };
  }
  const script = new URL('../peers.py', import.meta.url).pathname;
  const out: Array<{ wall: number; fit: number; score: number; iterations: number; peak?: number }> = [];
  for (let i = 0; i < runs; i++) {
    const run = runMeasured(ctx.python, [script, 'small', join(ROOT, file), '--target', 'label'], {
      cwd: ROOT,
    });
    if (run.status !== 0) {
      return {
        id: 'sklearn',
        system: 'scikit-learn',
        runs: 0,
        skipped: `bench/peers.py: ${lastLine(run.stderr)}`,
      };
    }
    const r = JSON.parse(run.stdout) as { fitSeconds: number; score: number; iterations: number };
    out.push({
      wall: run.wallSeconds,
      fit: r.fitSeconds,
      score: r.score,
      iterations: r.iterations,
      ...(run.peakRssBytes === undefined ? {} : { peak: run.peakRssBytes }),
    });
  }
  const peaks = out.map((r) => r.peak).filter((x) => x !== undefined);
  return {
    id: 'sklearn',
    system: `scikit-learn ${status.version} (python)`,
    settings: 'pandas.read_csv, StandardScaler, LogisticRegression()',
    wallSeconds: median(out.map((r) => r.wall)),
    fitSeconds: median(out.map((r) => r.fit)),
    ...(peaks.length === 0 ? {} : { peakRssBytes: median(peaks) }),
    iterations: out[0]!.iterations,
    score: median(out.map((r) => r.score)),
    runs,
  };
}
