/**
 * Train/test splits of a frame, by rows.
 */
import type { Frame } from '../data/frame.ts';
import { type SplitMethod, trainTestSplit } from '../data/split.ts';
import { encodeLabels, fitLabels } from '../preprocess/labels.ts';

/** Options of {@link splitFrame}. */
export interface SplitFrameOptions {
  /** Share of rows held out for testing, in (0, 1). */
  readonly testFraction: number;
  /** @defaultValue `'random'` */
  readonly method?: SplitMethod;
  /** @defaultValue 42 */
  readonly seed?: number;
  /** Target column whose classes `stratified` keeps in proportion. */
  readonly target?: string;
}

/** Splits `frame` into training and test rows. */
export function splitFrame(frame: Frame, options: SplitFrameOptions): { train: Frame; test: Frame } {
  const method = options.method ?? 'random';
  let labels: Int32Array | undefined;
  if (method === 'stratified' && options.target !== undefined) {
    const column = frame.column(options.target);
    labels = encodeLabels(fitLabels(column), column);
  }
  const fold = trainTestSplit(frame.rows, {
    testFraction: options.testFraction,
    method,
    seed: options.seed ?? 42,
    ...(labels === undefined ? {} : { labels }),
  });
  // Both sets of a tail split are one run of rows each, which `take` views instead of copying.
  return { train: frame.take(fold.train), test: frame.take(fold.test) };
}
