/**
 * What a model file records besides the tensors, and the checks a loaded file's record must pass.
 * A model file is untrusted input: every field is checked for type before it is used.
 */
import type { Schema } from '../data/frame.ts';
import { ModelFileError } from '../errors.ts';
import type { FitInfo, Task } from '../models/estimator.ts';
import type { LabelEncoding } from '../preprocess/labels.ts';
import type { PreprocessPlan } from '../preprocess/preprocessor.ts';

/** The `meta` section of a distml model file. */
export interface ModelMeta {
  readonly task: Task;
  /** Name of the target column the model learned. */
  readonly target: string;
  /** Classes of a classifier; absent for regressors. */
  readonly labels?: LabelEncoding;
  /** Feature columns of the training data, as read. */
  readonly schema: Schema;
  readonly preprocessing: PreprocessPlan;
  readonly shape: { readonly features: number; readonly classes: number };
  readonly fit: FitInfo;
  /** Scores measured when the model was trained (on the held-out rows, if any). */
  readonly metrics?: Readonly<Record<string, number>>;
  /** Where the model came from: data file, rows, seed, split. */
  readonly training?: Readonly<Record<string, unknown>>;
}

/** Checks the `meta` of a loaded model file. @throws ModelFileError (bad-header) naming the field */
export function parseModelMeta(meta: Record<string, unknown>, file: string): ModelMeta {
  const bad = (field: string, expected: string): never => {
    throw new ModelFileError(file, 'bad-header', `meta.${field} must be ${expected}`);
  };
  const task = meta.task;
  if (task !== 'classification' && task !== 'regression') bad('task', "'classification' or 'regression'");
  if (typeof meta.target !== 'string') bad('target', 'a string');
  const shape = asRecord(meta.shape) ?? bad('shape', 'an object');
  if (!isCount(shape.features) || !isCount(shape.classes)) bad('shape', '{ features, classes } counts');
  let labels: LabelEncoding | undefined;
  if (task === 'classification') {
    const l = asRecord(meta.labels) ?? bad('labels', 'an object');
    if ((l.kind !== 'number' && l.kind !== 'string') || !isStringArray(l.classes)) {
      bad('labels', "{ kind: 'number'|'string', classes: string[] }");
    }
    labels = { kind: l.kind as 'number' | 'string', classes: l.classes as string[] };
    if (labels.classes.length !== shape.classes) bad('labels.classes', 'as long as shape.classes');
  }
  const schema = Array.isArray(meta.schema) ? meta.schema : bad('schema', 'an array');
  for (const f of schema) {
    const field = asRecord(f);
    if (
      field === undefined ||
      typeof field.name !== 'string' ||
      (field.kind !== 'number' && field.kind !== 'category')
    ) {
      bad('schema', 'an array of { name, kind }');
    }
  }
  const plan = asRecord(meta.preprocessing) ?? bad('preprocessing', 'an object');
  if (!Array.isArray(plan.steps) || !isStringArray(plan.outputNames)) {
    bad('preprocessing', '{ steps: [], outputNames: string[] }');
  }
  for (const s of plan.steps as unknown[]) checkStep(s, bad);
  if ((plan.outputNames as string[]).length !== shape.features)
    bad('preprocessing.outputNames', 'one name per feature');
  const fit = asRecord(meta.fit) ?? {};
  const metrics = asRecord(meta.metrics);
  return {
    task: task as Task,
    target: meta.target as string,
    ...(labels === undefined ? {} : { labels }),
    schema: schema as Schema,
    preprocessing: plan as unknown as PreprocessPlan,
    shape: { features: shape.features as number, classes: shape.classes as number },
    fit: fit as FitInfo,
    ...(metrics === undefined ? {} : { metrics: metrics as Record<string, number> }),
    ...(asRecord(meta.training) === undefined ? {} : { training: asRecord(meta.training)! }),
  };
}

function checkStep(s: unknown, bad: (field: string, expected: string) => never): void {
  const step = asRecord(s) ?? bad('preprocessing.steps', 'objects');
  if (typeof step.name !== 'string') bad('preprocessing.steps[].name', 'a string');
  if (step.kind === 'number') {
    for (const k of ['fill', 'center', 'scale'] as const) {
      if (typeof step[k] !== 'number' || !Number.isFinite(step[k]))
        bad(`preprocessing.steps[].${k}`, 'a finite number');
    }
    if (step.scale === 0) bad('preprocessing.steps[].scale', 'non-zero');
    return;
  }
  if (step.kind === 'category') {
    if (!isStringArray(step.levels) || (step.levels as string[]).length === 0) {
      bad('preprocessing.steps[].levels', 'a non-empty string array');
    }
    if (typeof step.fill !== 'string' || !(step.levels as string[]).includes(step.fill)) {
      bad('preprocessing.steps[].fill', 'one of the levels');
    }
    if (typeof step.dropFirst !== 'boolean') bad('preprocessing.steps[].dropFirst', 'a boolean');
    return;
  }
  bad('preprocessing.steps[].kind', "'number' or 'category'");
}

function asRecord(v: unknown): Record<string, unknown> | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
    ? (v as Record<string, unknown>)
    : undefined;
}

function isCount(v: unknown): boolean {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0;
}

function isStringArray(v: unknown): boolean {
  return Array.isArray(v) && v.every((x) => typeof x === 'string');
}
