/**
 * A trained model as users handle it: the preprocessing plan, the fitted estimator and the class
 * labels together, so it predicts from a raw {@link Frame} and saves to one safe model file.
 */
import { type Column, categoricalColumn, Frame, numericColumn } from '../data/frame.ts';
import type { Engine } from '../engine/engine.ts';
import { InlineEngine } from '../engine/inline-engine.ts';
import { ModelFileError, UsageError } from '../errors.ts';
import { decodeModelFile, encodeModelFile, type ModelFileContents } from '../format/tensor-container.ts';
import { readModelFile, writeModelFile } from '../io/model-file.ts';
import { type ClassificationScores, classificationScores } from '../metrics/classification.ts';
import { type RegressionScores, regressionScores } from '../metrics/regression.ts';
import type { FittedModel } from '../models/estimator.ts';
import { getModel } from '../models/registry.ts';
import { encodeLabels, regressionTarget } from '../preprocess/labels.ts';
import { applyPlan } from '../preprocess/preprocessor.ts';
import { type ModelMeta, parseModelMeta } from './model-meta.ts';

/** Predictions for the rows of a frame. */
export interface Predictions {
  readonly rows: number;
  /** Regression values, or class indices (as numbers) for classifiers. */
  readonly values: Float64Array;
  /** Class labels of each row (classifiers only). */
  readonly labels?: readonly string[];
  /** Class probabilities, row-major rows×k (classifiers only). */
  readonly proba?: Float64Array;
  /** Class labels in index order (classifiers only). */
  readonly classes?: readonly string[];
  /** Per categorical feature, rows whose level was not seen in training (encoded as all zeros). */
  readonly unseen: Readonly<Record<string, number>>;
}

/** Scores of a model on labelled rows. */
export type Scores = ClassificationScores | RegressionScores;

/** Labelled rows predicted elsewhere, as {@link TrainedModel.scorePredictions} takes them. */
export interface PredictedRows {
  /** The truth: class indices (under the model's labels) for classifiers, values for regressors. */
  readonly truth: Int32Array | Float64Array;
  /** What the model predicted: class indices or values. */
  readonly predicted: Int32Array | Float64Array;
  /** Class probabilities, row-major rows×k (classifiers that have them). */
  readonly proba?: Float64Array;
}

/** Options of {@link TrainedModel.partialFit}. */
export interface PartialFitOptions {
  /** Where the chunk's fit runs. @defaultValue a new {@link InlineEngine}, closed afterwards */
  readonly engine?: Engine;
  /** Partitions of the chunk. @defaultValue the engine's worker count */
  readonly partitions?: number;
  /**
   * Seed of the chunk's shuffles, combined with the epochs seen so far so that successive chunks
   * shuffle differently. @defaultValue 42
   */
  readonly seed?: number;
}

/** A fitted model with its preprocessing, ready to predict from raw frames. */
export class TrainedModel {
  constructor(
    /** Registry name of the model. */
    readonly name: string,
    /** Validated hyperparameters. */
    readonly params: Readonly<Record<string, unknown>>,
    readonly meta: ModelMeta,
    readonly fitted: FittedModel,
  ) {}

  /** Predicts every row of `frame` (which needs the feature columns, not the target). */
  predict(frame: Frame, source?: string): Predictions {
    const { X, rows, unseen } = applyPlan(this.meta.preprocessing, frame, source);
    const values = this.fitted.predict(X, rows);
    if (this.meta.task === 'regression') return { rows, values, unseen };
    const classes = this.meta.labels!.classes;
    const labels = Array.from(values, (v) => classes[v]!);
    const proba = this.fitted.predictProba?.(X, rows);
    return { rows, values, labels, classes, unseen, ...(proba === undefined ? {} : { proba }) };
  }

  /** Scores the model on `frame`, whose `target` column (by default the training target) holds the truth. */
  evaluate(frame: Frame, target: string = this.meta.target, source?: string): Scores {
    return this.evaluatePredicted(frame, this.predict(frame, source), target);
  }

  /**
   * {@link evaluate} of predictions already made: `p` must be this model's {@link predict} of
   * `frame`'s rows. For a caller that also uses the predictions, so that the rows are not encoded
   * and predicted twice.
   */
  evaluatePredicted(frame: Frame, p: Predictions, target: string = this.meta.target): Scores {
    const column = frame.column(target);
    if (p.rows !== frame.rows)
      throw new RangeError(`${p.rows} predictions to score against the ${frame.rows} rows of a frame`);
    if (this.meta.task === 'regression')
      return this.scorePredictions({ truth: regressionTarget(column), predicted: p.values });
    const truth = encodeLabels(this.meta.labels!, column);
    return this.scorePredictions({
      truth,
      predicted: Int32Array.from(p.values),
      ...(p.proba === undefined ? {} : { proba: p.proba }),
    });
  }

  /**
   * Scores predictions made elsewhere (on the workers that hold the rows) with the metrics
   * {@link evaluate} computes, so the two give the same numbers for the same rows in the same order.
   */
  scorePredictions(rows: PredictedRows): Scores {
    if (this.meta.task === 'regression')
      return regressionScores(asFloat64(rows.truth), asFloat64(rows.predicted));
    const truth = rows.truth instanceof Int32Array ? rows.truth : Int32Array.from(rows.truth);
    const predicted = rows.predicted instanceof Int32Array ? rows.predicted : Int32Array.from(rows.predicted);
    return classificationScores(truth, predicted, rows.proba, this.meta.shape.classes);
  }

  /**
   * Online training: this model trained further on `frame`, a new chunk of labelled rows with the
   * training columns. The chunk is encoded with this model's preprocessing plan and labels (which
   * the first chunk, given to `train`, fixed: it must hold every class), then placed on `engine`.
   * For sgd-classifier and sgd-regressor this is one epoch over the chunk that continues the
   * step-size schedule and the shuffles where earlier fits left them, as scikit-learn's
   * `partial_fit`. This model is unchanged; the returned one records the chunk's fit facts.
   *
   * @throws UsageError when the model does not support online training
   * @throws TargetError when the chunk holds a class the model does not know
   * @example
   * ```ts
   * let model = await train(firstChunk, { target: 'label', model: 'sgd-classifier' });
   * for await (const chunk of chunks) model = await model.partialFit(chunk);
   * ```
   */
  async partialFit(frame: Frame, options: PartialFitOptions = {}): Promise<TrainedModel> {
    const fitted = this.fitted;
    if (fitted.partialFit === undefined) {
      throw new UsageError(
        `model '${this.name}' does not support partialFit (online training)`,
        'use sgd-classifier or sgd-regressor, or train again on all the rows',
      );
    }
    const { target, labels } = this.meta;
    const column = frame.column(target);
    const y =
      labels === undefined ? regressionTarget(column) : Float64Array.from(encodeLabels(labels, column));
    const engine = options.engine ?? new InlineEngine();
    try {
      const { X, rows, cols } = applyPlan(this.meta.preprocessing, frame.drop([target]), 'the chunk');
      const matrix = await engine.distribute(
        { rows, cols, X, y },
        { partitions: options.partitions ?? engine.workers },
      );
      try {
        const next = await fitted.partialFit(
          { matrix, classes: this.meta.shape.classes },
          { engine, seed: options.seed ?? 42 },
        );
        return new TrainedModel(this.name, this.params, { ...this.meta, fit: next.info }, next);
      } finally {
        await engine.release(matrix);
      }
    } finally {
      if (options.engine === undefined) await engine.close();
    }
  }

  /** This model with `metrics` recorded in its metadata (saved with it). */
  withMetrics(metrics: Readonly<Record<string, number>>): TrainedModel {
    return new TrainedModel(this.name, this.params, { ...this.meta, metrics }, this.fitted);
  }

  /** Writes the model to `path` atomically. */
  async save(path: string): Promise<void> {
    await writeModelFile(path, this.contents());
  }

  /** The bytes of this model's file: how a model travels as data (to workers that score with it). */
  toBytes(): Uint8Array {
    return encodeModelFile(this.contents(), { fileName: `model ${this.name}` });
  }

  /** Loads a model file; parses and checks it, never runs anything from it. */
  static async load(path: string): Promise<TrainedModel> {
    return TrainedModel.fromContents(await readModelFile(path), path);
  }

  /**
   * A model from the bytes of its file ({@link toBytes}), checked as {@link load} checks a file.
   * @param name - names the bytes in error messages
   */
  static fromBytes(bytes: Uint8Array, name: string): TrainedModel {
    return TrainedModel.fromContents(decodeModelFile(bytes, name), name);
  }

  private contents(): ModelFileContents {
    return {
      kind: this.name,
      params: { ...this.params },
      meta: this.meta as unknown as Record<string, unknown>,
      tensors: this.fitted.tensors() as Record<string, never>,
    };
  }

  private static fromContents(contents: ModelFileContents, path: string): TrainedModel {
    let definition: ReturnType<typeof getModel>;
    try {
      definition = getModel(contents.kind);
    } catch (err) {
      throw new ModelFileError(
        path,
        'bad-header',
        `unknown model kind '${contents.kind}'`,
        (err as Error).message,
      );
    }
    const meta = parseModelMeta(contents.meta, path);
    const fitted = definition.restore(contents.params, contents.tensors, meta.shape, meta.fit);
    return new TrainedModel(definition.name, contents.params, meta, fitted);
  }
}

function asFloat64(values: Int32Array | Float64Array): Float64Array {
  return values instanceof Float64Array ? values : Float64Array.from(values);
}

/** Predictions as a frame: `prediction`, then `proba_<class>` columns for classifiers. */
export function predictionsToFrame(p: Predictions, labelKind: 'number' | 'string' = 'string'): Frame {
  const columns: Column[] = [];
  if (p.labels === undefined) columns.push(numericColumn('prediction', p.values));
  else if (labelKind === 'number')
    columns.push(numericColumn('prediction', Float64Array.from(p.labels, Number)));
  else columns.push(categoricalColumn('prediction', Int32Array.from(p.values), p.classes!));
  if (p.proba !== undefined && p.classes !== undefined) {
    const k = p.classes.length;
    p.classes.forEach((c, j) => {
      const col = new Float64Array(p.rows);
      for (let i = 0; i < p.rows; i++) col[i] = p.proba![i * k + j]!;
      columns.push(numericColumn(`proba_${c}`, col));
    });
  }
  return new Frame(columns);
}
