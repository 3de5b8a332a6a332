/**
 * Models by name, as the CLI and the library look them up.
 */
import { didYouMean, UnknownModelError } from '../errors.ts';
import type { ModelDefinition } from './estimator.ts';
import { elasticNetDefinition, lassoDefinition } from './linear/elastic-net.ts';
import { linearRegressionDefinition } from './linear/linear-regression.ts';
import { linearSvcDefinition } from './linear/linear-svc.ts';
import { logisticRegressionDefinition } from './linear/logistic-regression.ts';
import { ridgeDefinition } from './linear/ridge.ts';
import { sgdClassifierDefinition } from './linear/sgd-classifier.ts';
import { sgdRegressorDefinition } from './linear/sgd-regressor.ts';
import './kernels.ts';

const MODELS: readonly ModelDefinition[] = [
  linearRegressionDefinition,
  ridgeDefinition,
  lassoDefinition,
  elasticNetDefinition,
  logisticRegressionDefinition,
  linearSvcDefinition,
  sgdClassifierDefinition,
  sgdRegressorDefinition,
];

/** Names of every model, in listing order. */
export function modelNames(): string[] {
  return MODELS.map((m) => m.name);
}

/** Every model definition. */
export function modelDefinitions(): readonly ModelDefinition[] {
  return MODELS;
}

/** The model registered under `name`. @throws UnknownModelError with a "did you mean" hint */
export function getModel(name: string): ModelDefinition {
  const found = MODELS.find((m) => m.name === name);
  if (found === undefined) {
    throw new UnknownModelError(
      `unknown model '${name}'`,
      didYouMean(name, modelNames()) ?? `available models: ${modelNames().join(', ')}`,
    );
  }
  return found;
}
