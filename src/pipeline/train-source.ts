/**
 * Training from a data source that the workers read themselves (a path on shared storage or an
 * http(s) URL): the driver plans the splits from the file's size and header or footer, the workers
 * summarise their splits, the driver merges the summaries into the same preprocessing plan and
 * label encoding that training from a frame learns, and the workers encode their splits with it.
 * With a test fraction, the workers hold rows out by a per-row rule, the fit sees only the others,
 * and the workers score the held-out rows with the fitted model afterwards. No row passes through
 * the driver.
 */
import { redactedUrl } from '../data/byte-source.ts';
import type { Field } from '../data/frame.ts';
import { checkHeldOutRule, type HeldOutRule } from '../data/held-out.ts';
import { planSource } from '../data/source.ts';
import type { Plain } from '../engine/source-tasks.ts';
import { isSourceEngine, type SourceEngine } from '../engine/source-tasks.ts';
import { EmptyDataError, ParamError, TargetError, UsageError } from '../errors.ts';
import { getModel } from '../models/registry.ts';
import type { LabelEncoding } from '../preprocess/labels.ts';
import {
  type ColumnSummary,
  classesFromSummary,
  type LabelSummary,
  mergeLabelSummaries,
  mergeSummaries,
  planFromSummaries,
} from '../preprocess/summaries.ts';
import type { ScoreSpec, SplitScores } from './held-out-scoring.ts';
import { allZeroWeightsError, checkSampleWeightOption } from './sample-weight.ts';
import { type BuildSpec, type ProfileSpec, type SplitProfile, TABULAR_SOURCE } from './source-tasks.ts';
import { fitPlaced, type TrainOptions } from './train.ts';
import type { Scores, TrainedModel } from './trained-model.ts';

/** Options of {@link trainFromSource}. */
export interface SourceTrainOptions extends TrainOptions {
  /** CSV field delimiter. @defaultValue `,` (a tab for .tsv) */
  readonly delimiter?: string;
  /** CSV columns to read as categories even when they look numeric. */
  readonly categorical?: readonly string[];
  /**
   * Probability that a row is held out of training and scored after the fit, on the workers: each
   * row's choice is a hash of `seed` and the row's place in the file (see data/held-out.ts), so the
   * held-out count is about rows × testFraction, not exactly. 0 trains on every row.
   * @defaultValue 0
   */
  readonly testFraction?: number;
  /** Called as the workers finish reading and summarising each split, before the fit. */
  readonly onReading?: (splitsDone: number, splits: number) => void;
  /** Called once the model is fitted, before the held-out rows are scored. */
  readonly onFitted?: (model: TrainedModel) => void;
  /** Called as the workers finish scoring the held-out rows of each split. */
  readonly onScoring?: (splitsDone: number, splits: number) => void;
}

/** What {@link trainFromSource} learned besides the model. */
export interface SourceTraining {
  readonly model: TrainedModel;
  /** Rows the workers read. */
  readonly rows: number;
  /** Columns of the source. */
  readonly columns: number;
  /** Rows the model was fitted on. */
  readonly trainRows: number;
  /** Rows held out and scored (0 without `testFraction`). */
  readonly testRows: number;
  /** Scores on the held-out rows, by the metric code of `TrainedModel.evaluate` (with `testFraction`). */
  readonly metrics?: Scores;
  /** Per categorical feature, held-out rows whose level training never saw (encoded as zeros). */
  readonly unseen?: Readonly<Record<string, number>>;
}

/**
 * Trains on the rows of the CSV or Parquet file at `location`, read by the workers of
 * `options.engine`, which must be a cluster engine: on every row, or with `testFraction` on the
 * rows the per-row rule does not hold out, which the workers then score with the fitted model.
 * @throws UsageError when the engine cannot read sources, or for options this path does not support
 * @throws ParamError when the rule leaves no test rows or no training rows
 * @throws TargetError when a class appears only in held-out rows
 */
export async function trainFromSource(
  location: string,
  options: SourceTrainOptions,
): Promise<SourceTraining> {
  const engine = options.engine;
  if (engine === undefined || !isSourceEngine(engine)) {
    throw new UsageError(
      'training from a shared data source needs a cluster engine (--cluster URL)',
      'workers read their own partitions; on one machine, train from the file without --shared-data',
    );
  }
  const definition = getModel(options.model);
  const estimator = definition.create(options.params ?? {});
  const weight = options.sampleWeight;
  if (weight !== undefined) checkSampleWeightOption(weight, options.target, definition);
  const source = await planSource(location, {
    partitions: options.partitions ?? engine.workers,
    ...(options.delimiter === undefined ? {} : { delimiter: options.delimiter }),
    ...(options.categorical === undefined ? {} : { categorical: options.categorical }),
  });
  if (!source.columns.some((c) => c.name === options.target)) {
    throw new UsageError(
      `--target: ${redactedUrl(location)} has no column '${options.target}'`,
      `its columns: ${source.columns.map((c) => c.name).join(', ')}`,
    );
  }
  if (weight !== undefined && !source.columns.some((c) => c.name === weight)) {
    throw new UsageError(
      `--sample-weight: ${redactedUrl(location)} has no column '${weight}'`,
      `its columns: ${source.columns.map((c) => c.name).join(', ')}`,
    );
  }
  const splits = source.splits as unknown as Plain[];
  const fraction = options.testFraction ?? 0;
  const heldOut = fraction === 0 ? undefined : checkHeldOutRule({ seed: options.seed ?? 42, fraction });
  const profileSpec: ProfileSpec = {
    target: options.target,
    task: definition.task,
    ...(weight === undefined ? {} : { sampleWeight: weight }),
    ...(heldOut === undefined ? {} : { heldOut }),
  };
  const profiles = (await engine.profileSources(
    { handlers: TABULAR_SOURCE, splits, spec: profileSpec as unknown as Plain },
    options.onReading,
  )) as unknown as SplitProfile[];

  let rows = 0;
  let testRows = 0;
  let features: ColumnSummary[] | undefined;
  let labelSummary: LabelSummary | undefined;
  let heldOutLabels: LabelSummary | undefined;
  let weightSum = 0;
  for (const p of profiles) {
    rows += p.rows;
    testRows += p.heldOutRows ?? 0;
    weightSum += p.weightSum ?? 0;
    if (p.heldOutLabels !== undefined && (p.heldOutRows ?? 0) > 0)
      heldOutLabels =
        heldOutLabels === undefined ? p.heldOutLabels : mergeLabelSummaries(heldOutLabels, p.heldOutLabels);
    if (p.rows === 0) continue; // an empty split's summaries add nothing (and its kinds are empty)
    features = features === undefined ? [...p.features] : mergeSummaries(features, p.features);
    if (p.labels !== undefined)
      labelSummary = labelSummary === undefined ? p.labels : mergeLabelSummaries(labelSummary, p.labels);
  }
  if (rows + testRows === 0) {
    throw new EmptyDataError(
      `${redactedUrl(location)} has a header but no data rows`,
      'add rows, or check the path',
    );
  }
  if (heldOut !== undefined) checkHeldOutCounts(heldOut, rows, testRows);
  if (weight !== undefined && !(weightSum > 0)) throw allZeroWeightsError(weight);
  const plan = planFromSummaries(features!, definition.inputNeeds(estimator.params));
  const labels: LabelEncoding | undefined =
    labelSummary === undefined ? undefined : classesFromSummary(labelSummary);
  if (labels !== undefined && heldOutLabels !== undefined) checkHeldOutLabels(labels, heldOutLabels);
  const buildSpec: BuildSpec = { ...profileSpec, plan, ...(labels === undefined ? {} : { labels }) };
  // Weighted partitions carry the weights as a last column, as training from a frame places them.
  const matrix = await engine.placeSources(
    { handlers: TABULAR_SOURCE, splits, spec: buildSpec as unknown as Plain },
    rows,
    plan.outputNames.length + (weight === undefined ? 0 : 1),
  );
  const schema: Field[] = plan.steps.map((s) =>
    s.kind === 'number'
      ? { name: s.name, kind: 'number' }
      : { name: s.name, kind: 'category', levels: s.levels },
  );
  const model = await fitPlaced(matrix, {
    definition,
    estimator,
    engine,
    // The model file records the row counts, as training from a frame records them.
    options:
      options.training === undefined
        ? options
        : { ...options, training: { ...options.training, rows: rows + testRows, trainRows: rows, testRows } },
    plan,
    schema,
    ...(labels === undefined ? {} : { labels }),
    classes: labels?.classes.length ?? 0,
    weighted: weight !== undefined,
  });
  options.onFitted?.(model);
  const counts = { rows: rows + testRows, columns: source.columns.length, trainRows: rows, testRows };
  if (heldOut === undefined) return { model, ...counts };
  const scored = await scoreOnWorkers(engine, model, splits, { ...profileSpec, heldOut }, options.onScoring);
  return { model, ...counts, ...scored };
}

/**
 * Scores `model` on the held-out rows of every split, on the workers: the model travels as the
 * bytes of its file, and the truth and the predictions (never the features) come back, in file
 * order, for the metric code of `TrainedModel.evaluate`.
 */
async function scoreOnWorkers(
  engine: SourceEngine,
  model: TrainedModel,
  splits: Plain[],
  spec: ProfileSpec & { heldOut: HeldOutRule },
  onScoring: SourceTrainOptions['onScoring'],
): Promise<{ metrics: Scores; unseen: Record<string, number> }> {
  const scoreSpec: ScoreSpec = {
    target: spec.target,
    task: spec.task,
    heldOut: spec.heldOut,
    model: model.toBytes(),
  };
  const parts = (await engine.scoreSources(
    { handlers: TABULAR_SOURCE, splits, spec: scoreSpec as unknown as Plain },
    onScoring,
  )) as unknown as SplitScores[];
  const classify = spec.task === 'classification';
  let n = 0;
  for (const p of parts) n += p.rows;
  const truth = classify ? new Int32Array(n) : new Float64Array(n);
  const predicted = classify ? new Int32Array(n) : new Float64Array(n);
  const k = model.meta.shape.classes;
  const withProba = classify && parts.some((p) => p.proba !== undefined);
  const proba = withProba ? new Float64Array(n * k) : undefined;
  const unseen: Record<string, number> = {};
  let at = 0;
  for (const p of parts) {
    truth.set(p.truth, at);
    predicted.set(p.predicted, at);
    if (proba !== undefined && p.rows > 0) proba.set(p.proba!, at * k);
    for (const [column, count] of Object.entries(p.unseen)) unseen[column] = (unseen[column] ?? 0) + count;
    at += p.rows;
  }
  const metrics = model.scorePredictions({ truth, predicted, ...(proba === undefined ? {} : { proba }) });
  return { metrics, unseen };
}

/**
 * Refuses a held-out set or a training set that came out empty, as the frame path's split does
 * (there the count is fixed; here each row is drawn on its own, so tiny data can draw none).
 */
function checkHeldOutCounts(rule: HeldOutRule, trainRows: number, testRows: number): void {
  const rows = trainRows + testRows;
  const how = `with --shared-data each row is held out on its own with probability ${rule.fraction} (seed ${rule.seed})`;
  if (testRows === 0) {
    throw new ParamError(
      `--test-fraction ${rule.fraction} leaves no test rows out of ${rows}: ${how}`,
      'use a larger --test-fraction or another --seed, or train with --test-fraction 0 and score a separate file with `distml evaluate MODEL DATA`',
    );
  }
  if (trainRows === 0) {
    throw new ParamError(
      `--test-fraction ${rule.fraction} leaves no training rows out of ${rows}: ${how}`,
      'use a smaller --test-fraction or another --seed',
    );
  }
}

/**
 * Refuses a class that only held-out rows hold: the model learns its classes from the training
 * rows, and the frame path's scoring refuses such a label too (a TargetError), after its fit.
 */
function checkHeldOutLabels(labels: LabelEncoding, heldOut: LabelSummary): void {
  const known = new Set(labels.classes);
  const unknown = heldOut.labels.filter((l) => !known.has(l)).sort();
  if (unknown.length === 0) return;
  throw new TargetError(
    `target column '${heldOut.name}' holds label${unknown.length === 1 ? '' : 's'} ${unknown.map((l) => `'${l}'`).join(', ')} only in held-out rows, which the model does not know (classes: ${labels.classes.join(', ')})`,
    'the classes are learned from the training rows: drop or merge the rare class, use another --seed, or train with --test-fraction 0',
  );
}
