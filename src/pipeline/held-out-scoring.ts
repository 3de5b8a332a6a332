/**
 * The held-out rows of a shared data source, on the worker side: which rows of a split are held
 * out (the per-row rule of data/held-out.ts on the rows' keys), the held-out rows a build set aside
 * for the score that follows the fit, and the score itself: the fitted model, sent as the bytes of
 * its model file (data, never code), predicts the split's held-out rows, and the worker answers
 * the truth and the predictions, never the features. The driver computes the metrics from them with
 * the code `TrainedModel.evaluate` uses.
 */
import type { Frame } from '../data/frame.ts';
import { type HeldOutRule, heldOutMask, rowsWhere } from '../data/held-out.ts';
import { readSplit, readSplitKeyed, type SourceSplit } from '../data/source.ts';
import type { Plain } from '../engine/source-tasks.ts';
import { encodeLabels, regressionTarget } from '../preprocess/labels.ts';
import { describeSplit, inSplit, targetOf } from './split-context.ts';
import { TrainedModel } from './trained-model.ts';

/** A split's rows as read, with which of them are held out (1) when a rule applies. */
export interface SplitRows {
  readonly frame: Frame;
  readonly heldOut?: Uint8Array;
}

/** Reads a split; with a rule, marks its held-out rows by their keys (their places in the file). */
export async function readSplitRows(split: SourceSplit, rule: HeldOutRule | undefined): Promise<SplitRows> {
  if (rule === undefined) return { frame: await readSplit(split) };
  const { frame, keys } = await readSplitKeyed(split);
  return { frame, heldOut: heldOutMask(rule, keys) };
}

/** What a score task is asked for. */
export interface ScoreSpec {
  readonly target: string;
  readonly task: 'classification' | 'regression';
  readonly heldOut: HeldOutRule;
  /** The fitted model's file, as {@link TrainedModel.toBytes} writes it. */
  readonly model: Uint8Array;
}

/** What a score task answers for its split's held-out rows, in file order. */
export interface SplitScores {
  readonly rows: number;
  /** Class indices (Int32Array) for classifiers, values (Float64Array) for regressors. */
  readonly truth: Int32Array | Float64Array;
  readonly predicted: Int32Array | Float64Array;
  /** Class probabilities, row-major rows×k, for classifiers that have them. */
  readonly proba?: Float64Array;
  /** Per categorical feature, held-out rows whose level training never saw (encoded as zeros). */
  readonly unseen: Readonly<Record<string, number>>;
}

/**
 * Held-out rows a build set aside, by run, split and rule (bounded: a fit that fails leaves some).
 * Only the score of the run that built may take them: a later run may name the same split of a
 * file rewritten since.
 */
const kept = new Map<string, Frame>();
const KEEP = 8;

function keyOf(run: string, split: SourceSplit, rule: HeldOutRule): string {
  return `${run}\n${JSON.stringify([split, rule.seed, rule.fraction])}`;
}

/** Keeps the held-out rows of `split` that a build of run `run` read, for the score after the fit. */
export function keepHeldOut(run: string, split: SourceSplit, rule: HeldOutRule, rows: Frame): void {
  const key = keyOf(run, split, rule);
  // Rows kept by other runs (their scores went to other workers) would never be taken again.
  for (const k of kept.keys()) if (!k.startsWith(`${run}\n`)) kept.delete(k);
  kept.delete(key);
  if (kept.size >= KEEP) kept.delete(kept.keys().next().value as string);
  kept.set(key, rows);
}

/** The held-out rows of `split`: those its build kept here, or read again (the split moved here). */
async function heldOutRows(run: string, split: SourceSplit, rule: HeldOutRule): Promise<Frame> {
  const key = keyOf(run, split, rule);
  const rows = kept.get(key);
  if (rows !== undefined) {
    kept.delete(key);
    return rows;
  }
  const { frame, heldOut } = await readSplitRows(split, rule);
  return frame.take(rowsWhere(heldOut!, 1));
}

/** Models decoded from a spec, by the spec object (the worker's spec cache hands out one per key). */
const models = new WeakMap<object, TrainedModel>();

/** The score handler of `tabular`: predicts a split's held-out rows with the model in the spec. */
export async function scoreHeldOut(splitData: Plain, specData: Plain, run: string): Promise<Plain> {
  const split = splitData as unknown as SourceSplit;
  const spec = specData as unknown as ScoreSpec;
  let model = models.get(spec);
  if (model === undefined) {
    model = TrainedModel.fromBytes(spec.model, 'the model sent to the workers for scoring');
    models.set(spec, model);
  }
  const frame = await heldOutRows(run, split, spec.heldOut);
  const fitted = model;
  const scores = inSplit(split, (): SplitScores => {
    const target = targetOf(frame, spec.target, split);
    const p = fitted.predict(frame, describeSplit(split));
    if (spec.task === 'regression')
      return { rows: p.rows, truth: regressionTarget(target), predicted: p.values, unseen: p.unseen };
    return {
      rows: p.rows,
      truth: encodeLabels(fitted.meta.labels!, target),
      predicted: Int32Array.from(p.values),
      ...(p.proba === undefined ? {} : { proba: p.proba }),
      unseen: p.unseen,
    };
  });
  return scores as unknown as Plain;
}
