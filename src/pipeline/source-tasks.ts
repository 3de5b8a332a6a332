/**
 * The worker side of training from a shared data source, registered as source handlers `tabular`:
 * a profile reads a split and summarises its features and target (the driver merges the summaries
 * into the preprocessing plan and the label encoding), a build reads the split again (or takes the
 * rows its profile just read) and encodes it with that plan: the partition the kernels run on.
 * Every worker process imports this module (`distml worker` does).
 */

import { redactedUrl } from '../data/byte-source.ts';
import type { DesignMatrix } from '../data/design-matrix.ts';
import { type Column, columnLength, type Frame, MISSING_CODE } from '../data/frame.ts';
import { readSplit, type SourceSplit } from '../data/source.ts';
import { type Plain, registerSourceHandlers } from '../engine/source-tasks.ts';
import { ColumnNotFoundError, DistmlError, TargetError } from '../errors.ts';
import { encodeLabels, type LabelEncoding, regressionTarget } from '../preprocess/labels.ts';
import { applyPlan, type PreprocessPlan } from '../preprocess/preprocessor.ts';
import {
  type ColumnSummary,
  type LabelSummary,
  summarizeFeatures,
  summarizeLabels,
} from '../preprocess/summaries.ts';

/** Registry name of these handlers. */
export const TABULAR_SOURCE = 'tabular';

/** What a profile is asked for. */
export interface ProfileSpec {
  readonly target: string;
  readonly task: 'classification' | 'regression';
}

/** What a profile returns. */
export interface SplitProfile {
  readonly rows: number;
  readonly features: readonly ColumnSummary[];
  /** For classification. */
  readonly labels?: LabelSummary;
}

/** How a build encodes its rows. */
export interface BuildSpec extends ProfileSpec {
  readonly plan: PreprocessPlan;
  readonly labels?: LabelEncoding;
}

/** Frames this worker profiled, kept for the build that usually follows (bounded). */
const profiled = new Map<string, Frame>();
const PROFILED_KEEP = 8;

/** A split in words, for messages: the file and where the split starts. */
export function describeSplit(split: SourceSplit): string {
  const where = redactedUrl(split.location);
  return split.format === 'csv'
    ? `${where} (bytes ${split.start}-${split.end})`
    : `${where} (rows ${split.rowStart}-${split.rowEnd})`;
}

async function profile(splitData: Plain, specData: Plain): Promise<Plain> {
  const split = splitData as unknown as SourceSplit;
  const spec = specData as unknown as ProfileSpec;
  const frame = await readSplit(split);
  const summary = inSplit(split, () => {
    const target = targetOf(frame, spec.target, split);
    if (spec.task === 'regression') regressionTarget(target);
    else checkLabelsPresent(target);
    const result: SplitProfile = {
      rows: frame.rows,
      features: summarizeFeatures(frame.drop([spec.target])),
      ...(spec.task === 'classification' ? { labels: summarizeLabels(target) } : {}),
    };
    return result;
  });
  const key = JSON.stringify(split);
  if (profiled.size >= PROFILED_KEEP) profiled.delete(profiled.keys().next().value as string);
  profiled.set(key, frame);
  return summary as unknown as Plain;
}

async function build(splitData: Plain, specData: Plain): Promise<DesignMatrix> {
  const split = splitData as unknown as SourceSplit;
  const spec = specData as unknown as BuildSpec;
  const key = JSON.stringify(split);
  const frame = profiled.get(key) ?? (await readSplit(split));
  profiled.delete(key);
  return inSplit(split, () => {
    const target = targetOf(frame, spec.target, split);
    const features = frame.drop([spec.target]);
    const { X, rows, cols } = applyPlan(spec.plan, features, describeSplit(split));
    const y =
      spec.task === 'classification'
        ? Float64Array.from(encodeLabels(spec.labels!, target))
        : Float64Array.from(regressionTarget(target));
    return { rows, cols, X, y };
  });
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

function targetOf(frame: Frame, target: string, split: SourceSplit) {
  if (!frame.has(target)) {
    throw new ColumnNotFoundError(
      `${redactedUrl(split.location)} has no column '${target}'`,
      `columns: ${frame.names.join(', ')}`,
    );
  }
  return frame.column(target);
}

/** Runs `f`, naming the split in the errors it throws (their row numbers count within the split). */
function inSplit<T>(split: SourceSplit, f: () => T): T {
  try {
    return f();
  } catch (err) {
    if (err instanceof DistmlError && !err.message.includes(redactedUrl(split.location))) {
      throw new DistmlError(
        err.code,
        `${describeSplit(split)}: ${err.message} (rows counted from the start of this split)`,
        undefined,
        { cause: err },
      );
    }
    throw err;
  }
}

registerSourceHandlers(TABULAR_SOURCE, { profile, build });
