/**
 * `distml train DATA --cluster URL --shared-data`: the workers read, encode and score their own
 * partitions of DATA, and the driver reports what they found; the rest of `train` is train.ts.
 */
import { redactedUrl } from '../../data/byte-source.ts';
import { splittableFormat } from '../../data/source.ts';
import type { SplitMethod } from '../../data/split.ts';
import type { Engine } from '../../engine/engine.ts';
import { UsageError } from '../../errors.ts';
import type { ModelDefinition } from '../../models/estimator.ts';
import type { RawParams } from '../../models/params.ts';
import { trainFromSource } from '../../pipeline/train-source.ts';
import { VERSION } from '../../version.ts';
import { formatTable, writeJsonReport } from '../output.ts';
import type { Progress } from '../progress.ts';
import { type RunSettings, runIdentity } from '../run-identity.ts';
import { checkpointer, engineStatus, reportFit } from './train-reporting.ts';

/** The options of `train` that the `--shared-data` path reads. */
export interface SharedDataOptions {
  cluster?: string;
  target: string;
  testFraction: number;
  split: SplitMethod;
  seed: number;
  sampleWeight?: string;
  delimiter?: string;
  checkpointDir?: string;
  checkpointEvery: number;
  resume?: boolean;
  save?: string;
  report?: string;
}

/** Usage errors of --shared-data, found before connecting. */
export function checkSharedData(dataPath: string, opts: SharedDataOptions): void {
  if (opts.cluster === undefined) {
    throw new UsageError(
      '--shared-data needs --cluster URL',
      'workers of a cluster read their own partitions; on one machine, drop --shared-data',
    );
  }
  if (opts.testFraction !== 0 && opts.split !== 'random') {
    throw new UsageError(
      `--split ${opts.split} cannot be used with --shared-data: the workers hold rows out one at a time (--split random), and ${opts.split === 'tail' ? 'the last rows' : 'a stratified choice'} would need every row counted before any is chosen`,
      `use --split random (the default), or --test-fraction 0 --save MODEL and score a held-out file with \`distml evaluate MODEL TEST\``,
    );
  }
  splittableFormat(dataPath);
}

/** Files from this size on read faster on the workers than on the driver (docs/cluster.md, Costs). */
export const SHARED_DATA_HINT_BYTES = 256 * 2 ** 20;

/**
 * The note `train --cluster` prints when it reads a large CSV or Parquet file on the driver: the
 * workers could read their own parts with `--shared-data`, which scales with them, where the
 * driver's reading does not. Undefined when there is nothing to suggest.
 */
export function sharedDataHint(
  dataPath: string,
  bytes: number,
  opts: { cluster?: string; sharedData?: boolean },
): string | undefined {
  if (opts.cluster === undefined || opts.sharedData === true || bytes < SHARED_DATA_HINT_BYTES)
    return undefined;
  try {
    splittableFormat(dataPath);
  } catch {
    return undefined; // a format the workers cannot split: --shared-data would refuse it
  }
  return (
    `note: ${redactedUrl(dataPath)} is ${Math.round(bytes / 2 ** 20)} MiB, read here and sent to the workers; ` +
    'if every worker can read it under this name (shared storage, or an http(s) URL), --shared-data lets ' +
    'them read their own parts instead, which scales with the workers (see docs/cluster.md)'
  );
}

/**
 * `train --cluster URL --shared-data`: the workers read and encode their own partitions, and score
 * the held-out rows with the fitted model; the driver never holds rows, only their truth and
 * predictions for the metrics. With --test-fraction 0 it reports no scores.
 */
export async function trainShared(
  dataPath: string,
  opts: SharedDataOptions,
  ctx: {
    definition: ModelDefinition;
    params: RawParams;
    engine: Engine;
    progress: Progress;
    settings: RunSettings;
  },
): Promise<void> {
  const { definition, engine, progress } = ctx;
  // A URL's user name and password stay out of the model file, the report and the output.
  const shown = redactedUrl(dataPath);
  const checkpoints = checkpointer(opts, runIdentity(ctx.settings), progress);
  progress.start(`reading ${shown} on the workers`);
  const readStarted = performance.now();
  // Reading (the profile pass) is the load of this path: the report's loadSeconds, as the driver's
  // reading of the file is without --shared-data; the fit is timed from its end.
  let loadSeconds = 0;
  let fitStarted = readStarted;
  let fitSeconds = 0;
  let scoreStarted = 0;
  const fitted = await trainFromSource(dataPath, {
    target: opts.target,
    model: definition.name,
    params: ctx.params,
    engine,
    seed: opts.seed,
    partitions: ctx.settings.partitions,
    ...(opts.sampleWeight === undefined ? {} : { sampleWeight: opts.sampleWeight }),
    ...(opts.delimiter === undefined ? {} : { delimiter: opts.delimiter }),
    ...(ctx.settings.categorical === undefined ? {} : { categorical: ctx.settings.categorical }),
    ...(checkpoints === undefined ? {} : { checkpoints }),
    testFraction: opts.testFraction,
    onReading: (done, splits) => {
      progress.update(done / splits, `${done}/${splits} splits`);
      if (done < splits) return;
      fitStarted = performance.now();
      loadSeconds = (fitStarted - readStarted) / 1000;
      progress.done(`${splits} splits read and summarised`);
      progress.start(`fitting ${definition.name} on ${shown}, read by the workers`);
    },
    onProgress: (p) =>
      progress.update(
        p.iteration / p.maxIterations,
        `iter ${p.iteration}/${p.maxIterations} loss=${p.loss.toPrecision(6)} ${engineStatus(engine)}`.trimEnd(),
      ),
    onFitted: (fit) => {
      fitSeconds = (performance.now() - fitStarted) / 1000;
      reportFit(progress, fit.meta.fit, engine);
      scoreStarted = performance.now();
      if (opts.testFraction > 0) progress.start('scoring the held-out rows on the workers');
    },
    onScoring: (done, splits) => progress.update(done / splits, `${done}/${splits} splits`),
    training: {
      data: shown,
      sharedData: true,
      split: 'random',
      testFraction: opts.testFraction,
      seed: opts.seed,
      ...(opts.sampleWeight === undefined ? {} : { sampleWeight: opts.sampleWeight }),
    },
  });
  const { rows, columns, trainRows, testRows, metrics } = fitted;
  if (metrics !== undefined) {
    progress.done(`${testRows} rows scored`);
    for (const [column, n] of Object.entries(fitted.unseen ?? {})) {
      progress.warn(
        `${n} held-out row(s) of ${shown} have a '${column}' value not seen in training; encoded as all zeros`,
      );
    }
  }
  const predictSeconds = metrics === undefined ? 0 : (performance.now() - scoreStarted) / 1000;
  const scores = { ...metrics } as Record<string, number>;
  const model = metrics === undefined ? fitted.model : fitted.model.withMetrics(scores);
  if (opts.save !== undefined) await model.save(opts.save);
  if (opts.report !== undefined) {
    await writeJsonReport(opts.report, {
      model: definition.name,
      task: definition.task,
      params: model.params,
      data: {
        path: shown,
        sharedData: true,
        rows,
        columns,
        features: model.meta.preprocessing.outputNames.length,
        trainRows,
        testRows,
        split: 'random',
        testFraction: opts.testFraction,
      },
      metrics: scores,
      metricsOn: metrics === undefined ? 'none' : 'test',
      fit: model.meta.fit,
      timings: { loadSeconds, fitSeconds, ...(metrics === undefined ? {} : { predictSeconds }) },
      engine: engine.telemetry(),
      seed: opts.seed,
      ...(opts.save === undefined ? {} : { savedTo: opts.save }),
      distml: VERSION,
      node: process.version,
    });
  }
  const table: Array<[string, string | number]> = [
    ['model', definition.name],
    ['data', `${shown} (${rows} rows, ${columns} columns, read by the workers)`],
  ];
  if (metrics === undefined) {
    table.push(['scores', 'none (--test-fraction 0): score a saved model with `distml evaluate MODEL DATA`']);
  } else {
    table.push(['split', `random, per row on the workers: ${trainRows} train / ${testRows} test`]);
    for (const [k, v] of Object.entries(scores)) table.push([k, v]);
  }
  table.push(['read time', `${loadSeconds.toFixed(3)}s (on the workers)`]);
  table.push(['fit time', `${fitSeconds.toFixed(3)}s`]);
  if (opts.save !== undefined) table.push(['saved', opts.save]);
  if (opts.report !== undefined) table.push(['report', opts.report]);
  process.stdout.write(formatTable(table));
}
