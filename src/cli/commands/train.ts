/**
 * `distml train DATA --target COL --model NAME`: load, split, fit, score, and optionally save the
 * model and a JSON report. Nothing is written unless every step before it succeeded.
 */

import { stat } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { Command, Option } from 'commander';
import type { Frame } from '../../data/frame.ts';
import { SPLIT_METHODS, type SplitMethod } from '../../data/split.ts';
import { parseFault } from '../../engine/local/faults.ts';
import { ColumnNotFoundError, UsageError } from '../../errors.ts';
import { getModel } from '../../models/registry.ts';
import { connectEngine } from '../../pipeline/engines.ts';
import { readSampleWeights } from '../../pipeline/sample-weight.ts';
import { splitFrame } from '../../pipeline/split-frame.ts';
import { train } from '../../pipeline/train.ts';
import { VERSION } from '../../version.ts';
import {
  addClusterOptions,
  type ClusterCliOptions,
  clusterConnection,
  clusterSecret,
} from '../cluster-options.ts';
import { modelList } from '../main.ts';
import {
  checkWritable,
  collect,
  columnList,
  parseCount,
  parseFraction,
  parsePort,
  parsePositive,
} from '../options.ts';
import { formatTable, writeJsonReport } from '../output.ts';
import { Progress } from '../progress.ts';
import { type RunSettings, runIdentity } from '../run-identity.ts';
import { loadFrame, scoreRows } from './shared.ts';
import { checkpointer, engineStatus, reportFit } from './train-reporting.ts';
import { checkSharedData, sharedDataHint, trainShared } from './train-shared.ts';

interface TrainOptions extends ClusterCliOptions {
  target: string;
  model: string;
  param: string[];
  testFraction: number;
  split: SplitMethod;
  seed: number;
  partitions?: number;
  workers: number;
  injectFault: string[];
  maxHeapMb?: number;
  checkpointDir?: string;
  checkpointEvery: number;
  resume?: boolean;
  save?: string;
  report?: string;
  delimiter?: string;
  categorical?: string;
  sampleWeight?: string;
  quiet?: boolean;
  minWorkers: number;
  joinTimeout: number;
  sharedData?: boolean;
  /** False with --no-channel. */
  channel: boolean;
  speculation?: boolean;
  /** False with --no-rebalance. */
  rebalance: boolean;
  channelHost?: string;
  channelPort?: number;
}

/** The `train` subcommand. */
export function trainCommand(): Command {
  const command = new Command('train')
    .description('Train a model on a data file, score it on held-out rows, and optionally save it')
    .argument('<data>', 'data file: .csv, .tsv, .jsonl, .parquet or .arrow')
    .requiredOption('--target <column>', 'column to predict')
    .requiredOption(
      '--model <name>',
      'model to train (listed below; --model NAME --help shows its parameters)',
    )
    .option('--param <key=value>', 'model parameter; repeat for several', collect, [])
    .option(
      '--test-fraction <f>',
      'share of rows held out for testing; 0 trains on every row',
      parseFraction,
      0.2,
    )
    .addOption(
      new Option('--split <method>', 'how test rows are chosen (tail = the last rows)')
        .choices(SPLIT_METHODS)
        .default('random'),
    )
    .option('--seed <n>', 'seed of every random choice (split, model)', parseCount, 42)
    .option(
      '--workers <n>',
      'worker threads; 0 runs everything serially on the main thread (small data always does)',
      parseCount,
      defaultWorkers(),
    )
    .option(
      '--sample-weight <column>',
      'column of per-row weights (finite, ≥ 0; not a feature); linear-regression and ridge',
    )
    .option('--partitions <n>', 'partitions of the training data (default: one per worker)', parsePositive)
    .option('--checkpoint-dir <dir>', 'save the fit state here every --checkpoint-every iterations')
    .option('--checkpoint-every <n>', 'iterations between checkpoints', parsePositive, 10)
    .option('--resume', 'continue from the newest valid checkpoint in --checkpoint-dir')
    .option(
      '--inject-fault <spec>',
      'test fault, e.g. kill:worker=1,task=3 (see docs/ARCHITECTURE.md)',
      collect,
      [],
    )
    .option('--max-heap-mb <mb>', 'heap limit of each worker thread', parsePositive)
    .option(
      '--cluster <url>',
      'train on `distml worker` processes through this Redis (redis://HOST:PORT) instead of threads',
    )
    .option(
      '--shared-data',
      'with --cluster: workers read their own partitions of DATA (a path every worker sees, or an http(s) URL) and score its held-out rows; CSV/TSV or Parquet, --split random only',
    )
    .option('--min-workers <n>', 'with --cluster: workers to wait for before training', parsePositive, 1)
    .option('--join-timeout <s>', 'with --cluster: seconds to wait for --min-workers', parsePositive, 60)
    .option(
      '--channel-host <host>',
      "with --cluster: address of this machine that every worker reaches, for the driver's task channel (default: its address toward Redis)",
    )
    .option(
      '--channel-port <port>',
      "with --cluster: port of the driver's task channel, for a firewall that opens one (default: a free port)",
      parsePort,
    )
    .option(
      '--speculation',
      "with --cluster: a pass's task running 3× its pass's median (and ≥ 1 s) gets a copy on another worker; the first answer counts",
    )
    .option(
      '--no-rebalance',
      'with --cluster: keep partitions where threads dealt them, rather than moving them off workers measured slow (a move never changes the model)',
    )
    .option(
      '--no-channel',
      'with --cluster: move partitions, arguments and results through Redis instead of the task channel (always so over rediss://)',
    )
    .option('--save <file>', 'write the trained model to this file')
    .option('--report <file>', 'write a JSON report (data, params, metrics, timings) to this file')
    .option('--delimiter <char>', 'CSV field delimiter (default: , or tab for .tsv)')
    .option(
      '--categorical <columns>',
      'comma-separated columns to read as categories even if they look numeric',
    )
    .option('-q, --quiet', 'no progress on stderr')
    .option('--verbose', 'print stack traces of errors')
    .addHelpText(
      'after',
      `\nModels:\n${modelList()}\n\nExamples:\n` +
        '  distml train data/iris.csv --target label --model logistic-regression\n' +
        '  distml train data/breast_cancer.csv --target label --model logistic-regression \\\n' +
        '      --param C=0.5 --split tail --test-fraction 0.2 --save model.distml --report report.json\n' +
        '  distml train --model logistic-regression --help\n',
    )
    .action(async (data: string, opts: TrainOptions) => runTrain(data, opts));
  return addClusterOptions(command);
}

async function runTrain(dataPath: string, opts: TrainOptions): Promise<void> {
  // Check everything that needs no data first, so a typo fails in milliseconds.
  const definition = getModel(opts.model);
  // Only what the user set travels on: an estimator refuses parameters that do not apply to its
  // other settings, which filled-in defaults would trip. Constructing it here runs those checks
  // before any data is read.
  const params = definition.params.parseGiven(definition.name, opts.param);
  definition.create(params);
  await checkWritable('--save', opts.save);
  await checkWritable('--report', opts.report);
  if (opts.save !== undefined && opts.save === opts.report) {
    throw new UsageError(`--save and --report both name ${opts.save}`, 'give them different files');
  }
  if (opts.sampleWeight !== undefined && definition.sampleWeights !== true) {
    throw new UsageError(
      `--sample-weight: ${definition.name} does not support sample weights`,
      'linear-regression and ridge do; drop the option or pick one of them',
    );
  }
  if (opts.split === 'stratified' && definition.task !== 'classification') {
    throw new UsageError(
      `--split stratified needs a classifier; ${definition.name} is a ${definition.task} model`,
    );
  }
  if (opts.sharedData) checkSharedData(dataPath, opts);
  const progress = new Progress({ quiet: opts.quiet ?? false });
  const dataBytes = (await stat(dataPath).catch(() => undefined))?.size ?? 0;
  // The worker threads start now, while the data loads.
  const faults = opts.injectFault.map(parseFault);
  const secret = clusterSecret(opts);
  const engine = await connectEngine({
    ...(opts.cluster === undefined
      ? {}
      : {
          cluster: {
            ...clusterConnection(opts.cluster, opts),
            namespace: opts.namespace,
            minWorkers: opts.minWorkers,
            joinTimeoutMs: opts.joinTimeout * 1000,
            channel: opts.channel,
            ...(opts.speculation === true ? { speculation: true } : {}),
            ...(opts.rebalance === false ? { rebalance: false } : {}),
            ...(opts.channelHost === undefined ? {} : { channelHost: opts.channelHost }),
            ...(opts.channelPort === undefined ? {} : { channelPort: opts.channelPort }),
            ...(secret === undefined ? {} : { secret }),
            log: (line: string) => progress.note(line),
          },
        }),
    workers: opts.workers,
    faults,
    ...(opts.maxHeapMb === undefined ? {} : { maxHeapMb: opts.maxHeapMb }),
    // Threads pay for themselves only on data large enough to leave the main thread: a file under
    // 1 MiB cannot reach the engine's 100,000-element threshold (every field takes ≥ 2 bytes).
    local: {
      startEagerly: !opts.sharedData && dataBytes >= 1024 * 1024,
    },
  });
  const hint = sharedDataHint(dataPath, dataBytes, opts);
  if (hint !== undefined) progress.note(hint);

  // Resolved once, so the run's identity and the fit use the same count.
  const partitions = opts.partitions ?? engine.workers;
  const settings: RunSettings = {
    data: dataPath,
    target: opts.target,
    model: opts.model,
    params,
    testFraction: opts.testFraction,
    split: opts.split,
    seed: opts.seed,
    partitions,
    sampleWeight: opts.sampleWeight,
    delimiter: opts.delimiter,
    categorical: opts.categorical === undefined ? undefined : columnList(opts.categorical),
    sharedData: opts.sharedData === true,
  };
  try {
    if (opts.sharedData) {
      await trainShared(dataPath, opts, { definition, params, engine, progress, settings });
      return;
    }
    const loadStarted = performance.now();
    const frame = await loadFrame(dataPath, opts, progress);
    const loadSeconds = (performance.now() - loadStarted) / 1000;
    checkTarget(frame, opts.target);
    if (opts.sampleWeight !== undefined) readSampleWeights(frame, opts.sampleWeight, opts.target, definition);

    let trainFrame: Frame = frame;
    let testFrame: Frame | undefined;
    if (opts.testFraction > 0) {
      // The whole frame is not used again (only its counts): the split reorders its rows in place
      // rather than holding a second copy of the data.
      const parts = splitFrame(frame, {
        testFraction: opts.testFraction,
        method: opts.split,
        seed: opts.seed,
        target: opts.target,
        inPlace: true,
      });
      trainFrame = parts.train;
      testFrame = parts.test;
    }

    const checkpoints = checkpointer(opts, runIdentity(settings), progress);
    progress.start(`fitting ${definition.name} on ${trainFrame.rows} rows`);
    const fitStarted = performance.now();
    let model = await train(trainFrame, {
      target: opts.target,
      model: definition.name,
      params,
      engine,
      seed: opts.seed,
      ...(opts.sampleWeight === undefined ? {} : { sampleWeight: opts.sampleWeight }),
      partitions,
      ...(checkpoints === undefined ? {} : { checkpoints }),
      onProgress: (p) =>
        progress.update(
          p.iteration / p.maxIterations,
          `iter ${p.iteration}/${p.maxIterations} loss=${p.loss.toPrecision(6)} ${engineStatus(engine)}`.trimEnd(),
        ),
      training: {
        data: dataPath,
        rows: frame.rows,
        trainRows: trainFrame.rows,
        testRows: testFrame?.rows ?? 0,
        split: opts.split,
        testFraction: opts.testFraction,
        seed: opts.seed,
        ...(opts.sampleWeight === undefined ? {} : { sampleWeight: opts.sampleWeight }),
      },
    });
    const fitSeconds = (performance.now() - fitStarted) / 1000;
    const info = model.meta.fit;
    const telemetry = reportFit(progress, info, engine);

    const scored = testFrame ?? trainFrame;
    const predictStarted = performance.now();
    const scores = scoreRows(model, scored, opts.target, dataPath, progress);
    const predictSeconds = (performance.now() - predictStarted) / 1000;
    model = model.withMetrics(scores);

    if (opts.save !== undefined) await model.save(opts.save);
    const report = {
      model: definition.name,
      task: definition.task,
      params: model.params,
      data: {
        path: dataPath,
        rows: frame.rows,
        columns: frame.columns.length,
        features: model.meta.preprocessing.outputNames.length,
        trainRows: trainFrame.rows,
        testRows: testFrame?.rows ?? 0,
        split: opts.split,
        testFraction: opts.testFraction,
      },
      metrics: scores,
      metricsOn: testFrame === undefined ? 'train' : 'test',
      fit: info,
      timings: { loadSeconds, fitSeconds, predictSeconds },
      engine: telemetry,
      seed: opts.seed,
      ...(opts.save === undefined ? {} : { savedTo: opts.save }),
      distml: VERSION,
      node: process.version,
    };
    if (opts.report !== undefined) await writeJsonReport(opts.report, report);

    const rows: Array<[string, string | number]> = [
      ['model', definition.name],
      ['data', `${dataPath} (${frame.rows} rows, ${frame.columns.length} columns)`],
      [
        'split',
        testFrame === undefined
          ? `none: ${trainFrame.rows} rows, scores are on training rows`
          : `${opts.split}: ${trainFrame.rows} train / ${testFrame.rows} test`,
      ],
    ];
    for (const [k, v] of Object.entries(scores)) rows.push([k, v]);
    rows.push(['fit time', `${fitSeconds.toFixed(3)}s`]);
    if (opts.save !== undefined) rows.push(['saved', opts.save]);
    if (opts.report !== undefined) rows.push(['report', opts.report]);
    process.stdout.write(formatTable(rows));
  } finally {
    // Also on failure: live worker threads would keep the process from exiting.
    await engine.close();
  }
}

function checkTarget(frame: Frame, target: string): void {
  try {
    frame.column(target);
  } catch (err) {
    if (err instanceof ColumnNotFoundError) throw new UsageError(`--target: ${err.message}`);
    throw err;
  }
}

/** One worker thread per core by default. */
function defaultWorkers(): number {
  return availableParallelism();
}
