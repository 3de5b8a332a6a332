/**
 * Training from a data source that the workers read themselves (a path on shared storage or an
 * http(s) URL): the driver plans the splits from the file's size and header or footer, the workers
 * summarise their splits, the driver merges the summaries into the same preprocessing plan and
 * label encoding that training from a frame learns, and the workers encode their splits with it.
 * No row passes through the driver.
 */
import { redactedUrl } from '../data/byte-source.ts';
import type { Field } from '../data/frame.ts';
import { planSource } from '../data/source.ts';
import type { Plain } from '../engine/source-tasks.ts';
import { isSourceEngine } from '../engine/source-tasks.ts';
import { EmptyDataError, UsageError } from '../errors.ts';
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
import { allZeroWeightsError, checkSampleWeightOption } from './sample-weight.ts';
import { type BuildSpec, type ProfileSpec, type SplitProfile, TABULAR_SOURCE } from './source-tasks.ts';
import { fitPlaced, type TrainOptions } from './train.ts';
import type { TrainedModel } from './trained-model.ts';

/** Options of {@link trainFromSource}. */
export interface SourceTrainOptions extends TrainOptions {
  /** CSV field delimiter. @defaultValue `,` (a tab for .tsv) */
  readonly delimiter?: string;
  /** CSV columns to read as categories even when they look numeric. */
  readonly categorical?: readonly string[];
}

/** What {@link trainFromSource} learned besides the model. */
export interface SourceTraining {
  readonly model: TrainedModel;
  /** Rows the workers read. */
  readonly rows: number;
  /** Columns of the source. */
  readonly columns: number;
}

/**
 * Trains on every row of the CSV or Parquet file at `location`, read by the workers of
 * `options.engine`, which must be a cluster engine.
 * @throws UsageError when the engine cannot read sources, or for options this path does not support
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
  const profileSpec: ProfileSpec = {
    target: options.target,
    task: definition.task,
    ...(weight === undefined ? {} : { sampleWeight: weight }),
  };
  const profiles = (await engine.profileSources({
    handlers: TABULAR_SOURCE,
    splits,
    spec: profileSpec as unknown as Plain,
  })) as unknown as SplitProfile[];

  let rows = 0;
  let features: ColumnSummary[] | undefined;
  let labelSummary: LabelSummary | undefined;
  let weightSum = 0;
  for (const p of profiles) {
    rows += p.rows;
    weightSum += p.weightSum ?? 0;
    if (p.rows === 0) continue; // an empty split's summaries add nothing (and its kinds are empty)
    features = features === undefined ? [...p.features] : mergeSummaries(features, p.features);
    if (p.labels !== undefined)
      labelSummary = labelSummary === undefined ? p.labels : mergeLabelSummaries(labelSummary, p.labels);
  }
  if (rows === 0 || features === undefined) {
    throw new EmptyDataError(
      `${redactedUrl(location)} has a header but no data rows`,
      'add rows, or check the path',
    );
  }
  if (weight !== undefined && !(weightSum > 0)) throw allZeroWeightsError(weight);
  const plan = planFromSummaries(features, definition.inputNeeds(estimator.params));
  const labels: LabelEncoding | undefined =
    labelSummary === undefined ? undefined : classesFromSummary(labelSummary);
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
    options,
    plan,
    schema,
    ...(labels === undefined ? {} : { labels }),
    classes: labels?.classes.length ?? 0,
    weighted: weight !== undefined,
  });
  return { model, rows, columns: source.columns.length };
}
