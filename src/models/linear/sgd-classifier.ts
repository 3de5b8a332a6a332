/**
 * A linear classifier trained by minibatch SGD on the workers against the parameter server, after
 * scikit-learn's `SGDClassifier`: hinge, log, modified Huber, squared hinge or perceptron loss, L2 penalty,
 * one-vs-rest for more than two classes (k coefficient rows in one parameter vector, all updated
 * by every minibatch). See sgd.kernels.ts for the update rule and sgd.ts for the fit.
 */
import { ConvergenceError, DataFormatError, DistmlError, TargetError } from '../../errors.ts';
import { f64Tensor, type Tensor } from '../../tensor.ts';
import type {
  Estimator,
  FitContext,
  FitInfo,
  FittedModel,
  ModelDefinition,
  TrainingData,
} from '../estimator.ts';
import { defineParams, type ParamsOf, type RawParams } from '../params.ts';
import { tensorData } from '../tensor-data.ts';
import { classesFromScores, linearScores } from './linear-scores.ts';
import { checkSgdParams, runSgd, type SgdState, sgdParamDecls } from './sgd.ts';

/** The declared parameters of the SGD classifier. */
export const sgdClassifierParams = defineParams({
  loss: {
    kind: 'choice',
    choices: ['hinge', 'log', 'modified-huber', 'squared-hinge', 'perceptron'] as const,
    default: 'hinge' as const,
    doc: "hinge (a linear SVM), log (logistic regression), modified-huber, squared-hinge or perceptron (the hinge at 0); 'log' and 'modified-huber' give probabilities",
  },
  ...sgdParamDecls({ learningRate: 'optimal', powerT: 0.5 }),
});

/** Validated SGD classifier parameters. */
export type SgdClassifierParams = ParamsOf<typeof sgdClassifierParams>;

const NAME = 'sgd-classifier';

function validate(params: RawParams): SgdClassifierParams {
  const p = sgdClassifierParams.validate(NAME, params);
  checkSgdParams(NAME, p);
  return p;
}

/** An unfitted SGD classifier. */
export class SgdClassifier implements Estimator<SgdClassifierParams, FittedSgdClassifier> {
  readonly name = NAME;
  readonly task = 'classification' as const;
  readonly params: Readonly<SgdClassifierParams>;

  /** @throws ParamError when a parameter fails its declaration or contradicts another */
  constructor(params: RawParams = {}) {
    this.params = validate(params);
  }

  async fit(data: TrainingData, ctx: FitContext): Promise<FittedSgdClassifier> {
    const k = data.classes;
    if (k < 2) throw new ConvergenceError(`${NAME} needs at least 2 classes, got ${k}`);
    const run = await runSgd(NAME, this.params, data, k === 2 ? 1 : k, ctx, this.params.epochs);
    return FittedSgdClassifier.from(this.params, data.matrix.cols, k, run, run.info);
  }
}

/**
 * A fitted SGD classifier: W (r×d) and b (r), r = 1 for binary models (positive class 1), and how
 * far training has come, so that {@link FittedSgdClassifier.partialFit} can carry on.
 * `predictProba` exists for the losses that define probabilities, 'log' and 'modified-huber'.
 */
export class FittedSgdClassifier implements FittedModel {
  readonly name = NAME;
  readonly task = 'classification' as const;
  /** Class probabilities, row-major rows×k, computed as scikit-learn's (absent for other losses). */
  readonly predictProba?: (X: Float64Array, rows: number) => Float64Array;

  constructor(
    readonly params: Readonly<SgdClassifierParams>,
    /** Coefficients, row-major r×d. */
    readonly coef: Float64Array,
    /** Intercepts, one per coefficient row. */
    readonly intercept: Float64Array,
    readonly features: number,
    readonly classes: number,
    /** Rows seen and epochs started by every fit so far. */
    readonly progress: Pick<SgdState, 'rowsSeen' | 'epochsSeen'>,
    readonly info: FitInfo,
  ) {
    if (params.loss === 'log' || params.loss === 'modified-huber') {
      this.predictProba = (X, rows) => this.probabilities(X, rows);
    }
  }

  /** @internal The fitted model of an SGD run. */
  static from(
    params: Readonly<SgdClassifierParams>,
    d: number,
    k: number,
    state: SgdState,
    info: FitInfo,
  ): FittedSgdClassifier {
    const r = k === 2 ? 1 : k;
    const { theta, rowsSeen, epochsSeen } = state;
    return new FittedSgdClassifier(
      params,
      theta.slice(0, r * d),
      theta.slice(r * d),
      d,
      k,
      { rowsSeen, epochsSeen },
      info,
    );
  }

  /**
   * Online training: one more epoch over `data`, a new chunk of rows, starting from these
   * coefficients and continuing the step-size schedule and the shuffles where the earlier fits
   * left them (like scikit-learn's `partial_fit`). `data` must be preprocessed with this model's
   * plan and labels: the same features, the same k classes. This model is left unchanged.
   *
   * @returns the model after the chunk; `info` describes this call's epoch
   * @throws DataFormatError or TargetError when the chunk's shape does not match the model
   * `TrainedModel.partialFit(frame)` does the encoding and placing from a raw frame:
   * @example
   * ```ts
   * let model = await train(firstChunk, { target: 'label', model: 'sgd-classifier' });
   * for await (const chunk of chunks) model = await model.partialFit(chunk);
   * ```
   */
  async partialFit(data: TrainingData, ctx: FitContext): Promise<FittedSgdClassifier> {
    if (data.matrix.cols !== this.features) {
      throw new DataFormatError(
        `${NAME}.partialFit: the chunk has ${data.matrix.cols} features, the model ${this.features}`,
        "preprocess every chunk with the model's preprocessing plan",
      );
    }
    if (data.classes !== this.classes) {
      throw new TargetError(
        `${NAME}.partialFit: the chunk has ${data.classes} classes, the model ${this.classes}`,
        "encode every chunk's labels with the model's label encoding",
      );
    }
    const theta = new Float64Array(this.coef.length + this.intercept.length);
    theta.set(this.coef);
    theta.set(this.intercept, this.coef.length);
    const run = await runSgd(NAME, this.params, data, this.intercept.length, ctx, 1, {
      theta,
      ...this.progress,
    });
    return FittedSgdClassifier.from(this.params, this.features, this.classes, run, run.info);
  }

  /** Signed scores X·Wᵀ + b, row-major rows×r (binary: one column, positive means class 1). */
  decisionFunction(X: Float64Array, rows: number): Float64Array {
    return linearScores(X, rows, this.coef, this.intercept, this.features);
  }

  predict(X: Float64Array, rows: number): Float64Array {
    return classesFromScores(this.decisionFunction(X, rows), rows, this.classes);
  }

  /**
   * scikit-learn's probabilities: per row c, the sigmoid of z (log loss) or (clip(z, −1, 1) + 1)/2
   * (modified Huber); binary models give [1 − p, p], one-vs-rest rows are divided by their sum (a
   * modified-Huber row that sums to 0 becomes uniform).
   */
  private probabilities(X: Float64Array, rows: number): Float64Array {
    const k = this.classes;
    const r = this.intercept.length;
    const log = this.params.loss === 'log';
    const z = this.decisionFunction(X, rows);
    for (let i = 0; i < z.length; i++) {
      const v = z[i]!;
      z[i] = log
        ? v >= 0
          ? 1 / (1 + Math.exp(-v))
          : Math.exp(v) / (1 + Math.exp(v))
        : (Math.min(1, Math.max(-1, v)) + 1) / 2;
    }
    const out = new Float64Array(rows * k);
    if (r === 1) {
      for (let i = 0; i < rows; i++) {
        out[2 * i] = 1 - z[i]!;
        out[2 * i + 1] = z[i]!;
      }
      return out;
    }
    for (let i = 0; i < rows; i++) {
      let sum = 0;
      for (let c = 0; c < k; c++) sum += z[i * k + c]!;
      for (let c = 0; c < k; c++) out[i * k + c] = sum > 0 ? z[i * k + c]! / sum : 1 / k;
    }
    return out;
  }

  tensors(): Record<string, Tensor> {
    const r = this.intercept.length;
    return {
      coef: f64Tensor(this.coef, [r, this.features]),
      intercept: f64Tensor(this.intercept, [r]),
      progress: f64Tensor(Float64Array.of(this.progress.rowsSeen, this.progress.epochsSeen), [2]),
    };
  }
}

/** Registry entry of the SGD classifier. */
export const sgdClassifierDefinition: ModelDefinition = {
  name: NAME,
  task: 'classification',
  summary:
    'Linear classifier (hinge, log, modified-huber, squared-hinge or perceptron loss, L2, one-vs-rest), by SGD on the workers against a parameter server (BSP, ASP or SSP)',
  params: sgdClassifierParams,
  inputNeeds: (params) => ({ standardize: params.standardize === true, dropFirstLevel: false }),
  create: (params) => new SgdClassifier(params),
  restore(params, tensors, shape, info) {
    const p = validate(params);
    const coef = tensorData(tensors, 'coef');
    const intercept = tensorData(tensors, 'intercept');
    const progress = tensorData(tensors, 'progress');
    const r = shape.classes === 2 ? 1 : shape.classes;
    if (
      shape.classes < 2 ||
      coef.length !== r * shape.features ||
      intercept.length !== r ||
      progress.length !== 2
    ) {
      throw new DistmlError(
        'MODEL_FILE',
        `${NAME} tensors do not match the model shape (${shape.features} features, ${shape.classes} classes)`,
      );
    }
    return new FittedSgdClassifier(
      p,
      coef,
      intercept,
      shape.features,
      shape.classes,
      { rowsSeen: progress[0]!, epochsSeen: progress[1]! },
      info,
    );
  },
};
