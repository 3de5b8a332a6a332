/**
 * Training from a raw frame: picks the model by name, learns the preprocessing and the labels from
 * the training rows, places the encoded matrix on an engine and fits. On a cluster engine the
 * rows go out as the frame holds them and each worker encodes its own (frame-partitions.ts).
 */
import type { Frame, Schema } from '../data/frame.ts';
import type { DistributedMatrix, Engine } from '../engine/engine.ts';
import { InlineEngine } from '../engine/inline-engine.ts';
import { isRawPartitionEngine, type RawPartitionEngine } from '../engine/raw-partitions.ts';
import type { Checkpointer, Estimator, FitProgress, ModelDefinition } from '../models/estimator.ts';
import type { RawParams } from '../models/params.ts';
import { getModel } from '../models/registry.ts';
import { encodeLabels, fitLabels, type LabelEncoding, regressionTarget } from '../preprocess/labels.ts';
import { fitPlan, type PreprocessPlan } from '../preprocess/preprocessor.ts';
import { type FramePlacement, framePartitions } from './frame-partitions.ts';
import type { ModelMeta } from './model-meta.ts';
import { readSampleWeights } from './sample-weight.ts';
import { TrainedModel } from './trained-model.ts';
import { trainingMatrix } from './training-matrix.ts';

/** Options of {@link train}. */
export interface TrainOptions {
  /** Name of the column to predict. */
  readonly target: string;
  /** Registry name of the model, e.g. `logistic-regression`. */
  readonly model: string;
  /** Hyperparameters; unknown names and bad values are refused. */
  readonly params?: RawParams;
  /** Where the fit runs. @defaultValue a new {@link InlineEngine}, closed afterwards */
  readonly engine?: Engine;
  /** Partitions of the training matrix. @defaultValue the engine's worker count */
  readonly partitions?: number;
  /** Seed of every random choice of the fit. @defaultValue 42 */
  readonly seed?: number;
  /** Called after every iteration of an iterative fit. */
  readonly onProgress?: (progress: FitProgress) => void;
  /** Where an iterative fit saves its state and resumes from. */
  readonly checkpoints?: Checkpointer;
  /**
   * Name of a column of per-row sample weights (finite, ≥ 0). It is not a feature. Only models
   * that declare `sampleWeights` (linear-regression, ridge) accept it; others refuse it.
   */
  readonly sampleWeight?: string;
  /** Facts about the training run to record in the model file (data path, split…). */
  readonly training?: Readonly<Record<string, unknown>>;
}

/** Trains a model on every row of `frame`. */
export async function train(frame: Frame, options: TrainOptions): Promise<TrainedModel> {
  const definition = getModel(options.model);
  const estimator = definition.create(options.params ?? {});
  const targetColumn = frame.column(options.target);
  const weights =
    options.sampleWeight === undefined
      ? undefined
      : readSampleWeights(frame, options.sampleWeight, options.target, definition);
  const features = frame.drop(
    options.sampleWeight === undefined ? [options.target] : [options.target, options.sampleWeight],
  );
  let labels: LabelEncoding | undefined;
  let y: Float64Array;
  if (definition.task === 'classification') {
    labels = fitLabels(targetColumn);
    y = Float64Array.from(encodeLabels(labels, targetColumn));
  } else {
    y = regressionTarget(targetColumn);
  }
  const plan = fitPlan(features, definition.inputNeeds(estimator.params));
  const engine = options.engine ?? new InlineEngine();
  const partitions = options.partitions ?? engine.workers;
  const classes = labels?.classes.length ?? 0;
  try {
    const matrix = isRawPartitionEngine(engine)
      ? await placeRaw(engine, framePartitions(features, plan, y, weights, partitions))
      : // Encoded here straight into the engine's memory, so placing it copies nothing.
        await engine.distribute(
          trainingMatrix(plan, features, y, weights, 'the training data', (n) => engine.allocate(n)),
          { partitions },
        );
    return await fitPlaced(matrix, {
      definition,
      estimator,
      engine,
      options,
      plan,
      schema: features.schema,
      ...(labels === undefined ? {} : { labels }),
      classes,
      weighted: weights !== undefined,
    });
  } finally {
    if (options.engine === undefined) await engine.close();
  }
}

/** The frame's rows placed raw, for the engine's workers to encode (frame-partitions.ts). */
function placeRaw(engine: RawPartitionEngine, raw: FramePlacement): Promise<DistributedMatrix> {
  return engine.distributeRaw(raw.parts, raw.encoding, raw.cols);
}

/** What {@link fitPlaced} needs besides the placed matrix. */
export interface PlacedFit {
  readonly definition: ModelDefinition;
  readonly estimator: Estimator<Readonly<Record<string, unknown>>>;
  readonly engine: Engine;
  readonly options: TrainOptions;
  readonly plan: PreprocessPlan;
  readonly schema: Schema;
  readonly labels?: LabelEncoding;
  readonly classes: number;
  readonly weighted: boolean;
}

/**
 * Fits on a placed matrix, releases it, and wraps the result with its metadata: the part of
 * training shared by frames placed from the driver and partitions workers read themselves.
 */
export async function fitPlaced(matrix: DistributedMatrix, f: PlacedFit): Promise<TrainedModel> {
  const { options, plan } = f;
  try {
    const fitted = await f.estimator.fit(
      {
        matrix,
        classes: f.classes,
        featureNames: plan.outputNames,
        ...(f.weighted ? { weighted: true } : {}),
      },
      {
        engine: f.engine,
        seed: options.seed ?? 42,
        ...(options.onProgress ? { onProgress: options.onProgress } : {}),
        ...(options.checkpoints ? { checkpoints: options.checkpoints } : {}),
      },
    );
    const meta: ModelMeta = {
      task: f.definition.task,
      target: options.target,
      ...(f.labels === undefined ? {} : { labels: f.labels }),
      schema: f.schema,
      preprocessing: plan,
      shape: { features: plan.outputNames.length, classes: f.classes },
      fit: fitted.info,
      ...(options.training === undefined ? {} : { training: options.training }),
    };
    return new TrainedModel(f.definition.name, f.estimator.params, meta, fitted);
  } finally {
    await f.engine.release(matrix);
  }
}
