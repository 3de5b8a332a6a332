/**
 * The worker side of training from a shared data source, registered as source handlers `tabular`:
 * a profile reads a split and summarises its features and target (the driver merges the summaries
 * into the preprocessing plan and the label encoding), a build reads the split again (or takes the
 * rows its profile just read) and encodes it with that plan: the partition the kernels run on.
 * With held-out rows, profile and build see only the training rows, and a score after the fit
 * predicts the held-out ones (held-out-scoring.ts).
 * Every worker process imports this module (`distml worker` does).
 */

import { redactedUrl } from '../data/byte-source.ts';
import type { DesignMatrix } from '../data/design-matrix.ts';
import {
  type Column,
  categoricalColumn,
  columnLength,
  Frame,
  MISSING_CODE,
  numericColumn,
} from '../data/frame.ts';
import { type HeldOutRule, rowsWhere } from '../data/held-out.ts';
import { type SourceSplit, splitRowPosition } from '../data/source.ts';
import { type Plain, registerSourceHandlers } from '../engine/source-tasks.ts';
import { ColumnNotFoundError, DataValueError, TargetError } from '../errors.ts';
import { encodeLabels, type LabelEncoding, regressionTarget } from '../preprocess/labels.ts';
import type { PreprocessPlan } from '../preprocess/preprocessor.ts';
import {
  type ColumnSummary,
  type LabelSummary,
  summarizeFeatures,
  summarizeLabels,
} from '../preprocess/summaries.ts';
import { keepHeldOut, readSplitRows, type SplitRows, scoreHeldOut } from './held-out-scoring.ts';
import { badWeightError, firstBadWeight } from './sample-weight.ts';
import { describeSplit, inSplit, targetOf } from './split-context.ts';
import { partInPlace } from './split-frame.ts';
import { trainingMatrix } from './training-matrix.ts';

/** Registry name of these handlers. */
export const TABULAR_SOURCE = 'tabular';

/** What a profile is asked for. */
export interface ProfileSpec {
  readonly target: string;
  readonly task: 'classification' | 'regression';
  /** Column of per-row sample weights: checked, summed, and not a feature. */
  readonly sampleWeight?: string;
  /** Which rows are held out for scoring (see data/held-out.ts); none without it. */
  readonly heldOut?: HeldOutRule;
}

/** What a profile returns. */
export interface SplitProfile {
  readonly rows: number;
  readonly features: readonly ColumnSummary[];
  /** For classification. */
  readonly labels?: LabelSummary;
  /** Sum of the training rows' sample weights, with `sampleWeight` (the driver refuses an all-zero total). */
  readonly weightSum?: number;
  /** Rows held out, with `heldOut` (`rows` counts the training rows). */
  readonly heldOutRows?: number;
  /** The labels of the held-out rows, for classification with `heldOut`. */
  readonly heldOutLabels?: LabelSummary;
}

/** How a build encodes its rows. */
export interface BuildSpec extends ProfileSpec {
  readonly plan: PreprocessPlan;
  readonly labels?: LabelEncoding;
}

/**
 * Splits this worker profiled, as read, kept for the build of the same run that usually follows
 * (bounded), by {@link handoffKey}. Only a build of the run that profiled may take one: a later run
 * names the same split when the file was rewritten at the same size and time stamp (or by a server
 * that sends no ETag), and must read the new rows.
 */
const profiled = new Map<string, SplitParts>();
const PROFILED_KEEP = 8;

function handoffKey(run: string, split: SourceSplit, spec: ProfileSpec): string {
  return `${run}\n${JSON.stringify([split, spec.heldOut ?? null])}`;
}

async function profile(splitData: Plain, specData: Plain, run: string): Promise<Plain> {
  const split = splitData as unknown as SourceSplit;
  const spec = specData as unknown as ProfileSpec;
  const read = await readSplitRows(split, spec.heldOut).catch((err: unknown) => {
    throw weightTextError(err, spec.sampleWeight);
  });
  const { frame, heldOut } = read;
  // Every row's weight is checked, held out or not, as the frame path checks the whole file.
  const weights =
    spec.sampleWeight === undefined ? undefined : await splitWeights(frame, split, spec.sampleWeight);
  const { summary, parts } = inSplit(split, () => {
    // Target checks see every row too (row numbers in their messages count within the split).
    const target = targetOf(frame, spec.target, split);
    if (spec.task === 'regression') regressionTarget(target);
    else checkLabelsPresent(target);
    let weightSum = 0;
    if (weights !== undefined)
      for (let i = 0; i < weights.length; i++) if (heldOut?.[i] !== 1) weightSum += weights[i]!;
    // The plan and the labels are learned from the training rows only, as the frame path learns
    // them from its training frame; held-out rows are counted, and their labels listed so that
    // the driver can refuse a class that only they hold. Parting moves the rows: after every
    // check that names a row by its place.
    const parts = parted(read);
    const { train, held } = parts;
    const classify = spec.task === 'classification';
    const result: SplitProfile = {
      rows: train.rows,
      features: summarizeFeatures(train.drop(notFeatures(spec))),
      ...(classify ? { labels: summarizeLabels(train.column(spec.target)) } : {}),
      ...(weights === undefined ? {} : { weightSum }),
      ...(held === undefined ? {} : { heldOutRows: held.rows }),
      ...(held !== undefined && classify ? { heldOutLabels: summarizeLabels(held.column(spec.target)) } : {}),
    };
    return { summary: result, parts };
  });
  // Splits left by other runs (their builds went to other workers) would never be taken again.
  for (const key of profiled.keys()) if (!key.startsWith(`${run}\n`)) profiled.delete(key);
  if (profiled.size >= PROFILED_KEEP) profiled.delete(profiled.keys().next().value as string);
  profiled.set(handoffKey(run, split, spec), parts);
  return summary as unknown as Plain;
}

async function build(
  splitData: Plain,
  specData: Plain,
  run: string,
  allocate: (length: number) => Float64Array,
): Promise<DesignMatrix> {
  const split = splitData as unknown as SourceSplit;
  const spec = specData as unknown as BuildSpec;
  const key = handoffKey(run, split, spec);
  const { train, held } = profiled.get(key) ?? parted(await readSplitRows(split, spec.heldOut));
  profiled.delete(key);
  // Only training rows enter the partition; the held-out ones wait here for the score.
  if (held !== undefined) keepHeldOut(run, split, spec.heldOut!, held);
  // The profile of this split checked the weights (every split is profiled before any is built).
  const weights =
    spec.sampleWeight === undefined ? undefined : await splitWeights(train, split, spec.sampleWeight);
  return inSplit(split, () => {
    const target = targetOf(train, spec.target, split);
    const features = train.drop(notFeatures(spec));
    const y = spec.task === 'classification' ? encodeLabels(spec.labels!, target) : regressionTarget(target);
    return trainingMatrix(spec.plan, features, y, weights, describeSplit(split), allocate);
  });
}

/** A split's rows as profile and build use them: the training rows, and the held-out ones apart. */
interface SplitParts {
  /** A view of the rows read, the training rows moved to the front of their columns. */
  readonly train: Frame;
  /** A copy of the held-out rows, with a rule: what the score needs, without every row read. */
  readonly held?: Frame;
}

/**
 * `read` parted into its training rows and its held-out rows. Copying the training rows out, as
 * `take` does, wrote most of the split again into memory used for the first time, in the profile
 * and again in the build: 0.6–0.8 s each for a split of 500,000 × 51 here, where parting the
 * rows in place writes no new memory but the held-out copy.
 */
function parted(read: SplitRows): SplitParts {
  const { frame, heldOut } = read;
  if (heldOut === undefined) return { train: frame };
  const { train, test } = partInPlace(frame, { train: rowsWhere(heldOut, 0), test: rowsWhere(heldOut, 1) });
  return { train, held: detached(test) };
}

/** `frame`'s rows in columns of their own. */
function detached(frame: Frame): Frame {
  return new Frame(
    frame.columns.map((c) =>
      c.kind === 'number'
        ? numericColumn(c.name, c.values.slice())
        : categoricalColumn(c.name, c.codes.slice(), c.levels),
    ),
  );
}

/** The columns that are not features: the target, and the sample weights. */
function notFeatures(spec: ProfileSpec): string[] {
  return spec.sampleWeight === undefined ? [spec.target] : [spec.target, spec.sampleWeight];
}

/**
 * The sample weights of a split, checked as training from a frame checks them (numeric, finite,
 * ≥ 0); a bad one is named by file, line and column (see {@link splitRowPosition}).
 */
async function splitWeights(frame: Frame, split: SourceSplit, name: string): Promise<Float64Array> {
  if (!frame.has(name)) {
    throw new ColumnNotFoundError(
      `--sample-weight: ${redactedUrl(split.location)} has no column '${name}'`,
      `columns: ${frame.names.join(', ')}`,
    );
  }
  const column = frame.column(name);
  let values: Float64Array;
  if (column.kind === 'category') {
    // The head sample met text in the column, but maybe in another split: name the first value
    // here that is not a number. A split whose values all read as numbers gives those numbers.
    values = new Float64Array(column.codes.length);
    for (let i = 0; i < values.length; i++) {
      const code = column.codes[i]!;
      const text = code === MISSING_CODE ? '' : column.levels[code]!.trim();
      values[i] = text === '' ? Number.NaN : Number(text);
      if (text !== '' && Number.isNaN(values[i]!)) {
        throw new DataValueError(
          `${await splitRowPosition(split, i, name)}: sample weight column '${name}' holds text '${text}', not a number`,
          'weights must be finite numbers ≥ 0',
        );
      }
    }
  } else values = column.values;
  const bad = firstBadWeight(values);
  if (bad >= 0) throw badWeightError(name, values[bad]!, { at: await splitRowPosition(split, bad, name) });
  return values;
}

/**
 * A parse error about text in the (numeric) weight column, with the weights' hint instead of the
 * parser's `--categorical` (which would not help); any other error as it is.
 */
function weightTextError(err: unknown, name: string | undefined): unknown {
  if (
    name === undefined ||
    !(err instanceof DataValueError) ||
    !err.message.includes(`column '${name}' holds text`)
  )
    return err;
  const bare = err.hint === undefined ? err.message : err.message.slice(0, -(err.hint.length + 3));
  return new DataValueError(bare, 'sample weights must be finite numbers ≥ 0 on every row');
}

/** Missing class labels fail here, where the row is known, rather than after the merge. */
function checkLabelsPresent(column: Column): void {
  const n = columnLength(column);
  for (let i = 0; i < n; i++) {
    const missing =
      column.kind === 'number' ? Number.isNaN(column.values[i]!) : column.codes[i] === MISSING_CODE;
    if (missing) {
      throw new TargetError(
        `target column '${column.name}' has a missing value in data row ${i + 1}`,
        'fill or drop those rows',
      );
    }
  }
}

registerSourceHandlers(TABULAR_SOURCE, { profile, build, score: scoreHeldOut });
