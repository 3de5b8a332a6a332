/**
 * distml's library API. The same steps the CLI runs are available here:
 *
 * ```ts
 * import { readFrame, splitFrame, train, TrainedModel } from 'distml';
 * const frame = await readFrame('data/breast_cancer.csv');
 * const { train: rows, test } = splitFrame(frame, { testFraction: 0.2, method: 'tail' });
 * const model = await train(rows, { target: 'label', model: 'logistic-regression', params: { C: 1 } });
 * console.log(model.evaluate(test));
 * await model.save('model.distml');
 * const again = await TrainedModel.load('model.distml');
 * ```
 */

export { type ArrowWriteOptions, readArrow, writeArrow } from './data/arrow.ts';
export { type CsvReadOptions, parseCsv, readCsv } from './data/csv-reader.ts';
export { type CsvWriteOptions, csvChunks, frameToCsv, writeCsv } from './data/csv-writer.ts';
export type { DesignMatrix } from './data/design-matrix.ts';
// Data
export * from './data/frame.ts';
export * from './data/generate.ts';
export { checkHeldOutRule, type HeldOutRule, heldOutMask, isHeldOut, rowsWhere } from './data/held-out.ts';
export { type JsonLinesReadOptions, readJsonLines } from './data/jsonl-reader.ts';
export { type ParquetCodec, type ParquetWriteOptions, readParquet, writeParquet } from './data/parquet.ts';
export * from './data/partition.ts';
export { Rng } from './data/random.ts';
export { type DataFormat, formatOf, type ReadOptions, readFrame } from './data/read.ts';
export { planSource, readSplit, readSplitKeyed, type SourceColumn, type SourceSplit } from './data/source.ts';
export * from './data/split.ts';
export { writeFrame } from './data/write.ts';
// Engine
export type { DistributedMatrix, Engine, EngineKind, EngineTelemetry, Layout } from './engine/engine.ts';
export { InlineEngine } from './engine/inline-engine.ts';
export {
  getKernel,
  type Kernel,
  type KernelArgs,
  kernelNames,
  registerKernel,
} from './engine/kernel-registry.ts';
export type { RedisEngineOptions, RedisTelemetry } from './engine/redis/redis-engine.ts';
export * from './errors.ts';
export {
  decodeModelFile,
  encodeModelFile,
  type ModelFileContents,
  type ModelFileHeader,
  type ModelFileLimits,
} from './format/tensor-container.ts';
export { readModelFile, readModelHeader, writeModelFile } from './io/model-file.ts';
export * from './metrics/index.ts';
// Models
export type {
  Estimator,
  FitContext,
  FitInfo,
  FitProgress,
  FittedModel,
  InputNeeds,
  ModelDefinition,
  Task,
  TrainingData,
} from './models/estimator.ts';
export { FittedLinearRegression, LinearRegression } from './models/linear/linear-regression.ts';
export { FittedLogisticRegression, LogisticRegression } from './models/linear/logistic-regression.ts';
export { defineParams, ParamSpec, type ParamsOf, type RawParams } from './models/params.ts';
export { getModel, modelDefinitions, modelNames } from './models/registry.ts';
export { connectEngine, createEngine, type EngineChoice } from './pipeline/engines.ts';
export type { ModelMeta } from './pipeline/model-meta.ts';
export { type SplitFrameOptions, splitFrame } from './pipeline/split-frame.ts';
export { type TrainOptions, train } from './pipeline/train.ts';
export { type SourceTraining, type SourceTrainOptions, trainFromSource } from './pipeline/train-source.ts';
export { type Predictions, predictionsToFrame, type Scores, TrainedModel } from './pipeline/trained-model.ts';
export * from './preprocess/labels.ts';
// Preprocessing, metrics, pipeline, model files
export * from './preprocess/preprocessor.ts';
export type { DType, Tensor, TensorData } from './tensor.ts';
export { VERSION } from './version.ts';
