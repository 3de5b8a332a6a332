/**
 * The contract every model follows (after scikit-learn's): parameters are declared once and
 * validated by the constructor; `fit` is written once against the {@link Engine} interface and
 * returns a separate fitted type, so predicting before fitting does not compile; fitting twice
 * gives the same model as fitting once; every random choice takes `ctx.seed`.
 */
import type { DistributedMatrix, Engine } from '../engine/engine.ts';
import type { Tensor } from '../tensor.ts';
import type { ParamDecls, ParamSpec, RawParams } from './params.ts';

/** What a model predicts. */
export type Task = 'classification' | 'regression';

/** The training set as an estimator sees it: a placed matrix and, for classifiers, the class count. */
export interface TrainingData {
  readonly matrix: DistributedMatrix;
  /** Number of classes k (targets are class indices 0..k-1); 0 for regression. */
  readonly classes: number;
  /**
   * The matrix's last column holds per-row sample weights (finite, ≥ 0), not a feature: the
   * features are its first `cols − 1` columns. Weights travel with their rows this way, to every
   * engine and every partition, without a second placement. Only models whose definition declares
   * `sampleWeights` are given weighted data.
   */
  readonly weighted?: boolean;
  /** Names of the features (after preprocessing, e.g. `color=red`), for messages. */
  readonly featureNames?: readonly string[];
}

/** One step of an iterative fit, for progress displays. */
export interface FitProgress {
  readonly iteration: number;
  readonly maxIterations: number;
  readonly loss: number;
}

/** Where an iterative fit saves and restores its state (the CLI backs it with a CheckpointStore). */
export interface Checkpointer {
  /** Save every this many iterations. */
  readonly every: number;
  /** The newest saved state, or undefined to start fresh. */
  restore(): Promise<{ step: number; tensors: Record<string, Float64Array> } | undefined>;
  save(step: number, tensors: Record<string, Float64Array>): Promise<void>;
}

/** What `fit` may use besides the data. */
export interface FitContext {
  readonly engine: Engine;
  /** Seed of every random choice the fit makes. */
  readonly seed: number;
  /** Called after every iteration of an iterative fit. */
  readonly onProgress?: (progress: FitProgress) => void;
  /** Checkpoints of an iterative fit; absent means none. */
  readonly checkpoints?: Checkpointer;
}

/** Facts about a finished fit, recorded in the model file. */
export interface FitInfo {
  readonly iterations?: number;
  /** Iteration the fit resumed from, when it resumed from a checkpoint. */
  readonly resumedFrom?: number;
  readonly converged?: boolean;
  readonly reason?: string;
  readonly finalLoss?: number;
  readonly warnings?: readonly string[];
}

/** A trained model: predicts from a row-major matrix of preprocessed features. */
export interface FittedModel {
  readonly name: string;
  readonly task: Task;
  /** Number of input features d. */
  readonly features: number;
  /** Number of classes k; 0 for regression. */
  readonly classes: number;
  readonly info: FitInfo;
  /** Predicted values (regression) or class indices (classification), one per row. */
  predict(X: Float64Array, rows: number): Float64Array;
  /** Class probabilities, row-major rows×k (classifiers only). */
  predictProba?(X: Float64Array, rows: number): Float64Array;
  /** The learned numbers, for the model file. */
  tensors(): Record<string, Tensor>;
  /**
   * Online training (models that support it): this model trained further on `data`, a new chunk
   * encoded like the training data (same features, same class indices). This model is unchanged.
   */
  partialFit?(data: TrainingData, ctx: FitContext): Promise<FittedModel>;
}

/** An unfitted model with validated parameters. */
export interface Estimator<P, M extends FittedModel = FittedModel> {
  readonly name: string;
  readonly task: Task;
  readonly params: Readonly<P>;
  fit(data: TrainingData, ctx: FitContext): Promise<M>;
}

/** How the preprocessing in front of a model should encode its inputs. */
export interface InputNeeds {
  /** Standardize numeric features (zero mean, unit variance). */
  readonly standardize: boolean;
  /** Drop the first level of each one-hot block (needed by unpenalized models with an intercept). */
  readonly dropFirstLevel: boolean;
}

/** Everything the CLI and the library need to know about one model, found by name in the registry. */
export interface ModelDefinition<D extends ParamDecls = ParamDecls> {
  readonly name: string;
  readonly task: Task;
  /** One line for `--help` and listings. */
  readonly summary: string;
  readonly params: ParamSpec<D>;
  /** Whether `fit` honours {@link TrainingData.weighted}; training refuses weights otherwise. */
  readonly sampleWeights?: boolean;
  /** The input encoding this model wants, given its validated parameters. */
  inputNeeds(params: Readonly<Record<string, unknown>>): InputNeeds;
  /** A new estimator; validates `params`. */
  create(params?: RawParams): Estimator<Readonly<Record<string, unknown>>>;
  /** Rebuilds a fitted model from a model file's parameters and tensors. */
  restore(
    params: Readonly<Record<string, unknown>>,
    tensors: Readonly<Record<string, Tensor>>,
    shape: { features: number; classes: number },
    info: FitInfo,
  ): FittedModel;
}
