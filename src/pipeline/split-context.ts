/**
 * Naming a split of a shared data source in what the worker reading it reports: where the split
 * starts, and the errors met while handling its rows.
 */
import { redactedUrl } from '../data/byte-source.ts';
import type { Column, Frame } from '../data/frame.ts';
import type { SourceSplit } from '../data/source.ts';
import { ColumnNotFoundError, DistmlError } from '../errors.ts';

/** A split in words, for messages: the file and where the split starts. */
export function describeSplit(split: SourceSplit): string {
  const where = redactedUrl(split.location);
  return split.format === 'csv'
    ? `${where} (bytes ${split.start}-${split.end})`
    : `${where} (rows ${split.rowStart}-${split.rowEnd})`;
}

/** The target column of a split's rows. @throws ColumnNotFoundError naming the file */
export function targetOf(frame: Frame, target: string, split: SourceSplit): Column {
  if (!frame.has(target)) {
    throw new ColumnNotFoundError(
      `${redactedUrl(split.location)} has no column '${target}'`,
      `columns: ${frame.names.join(', ')}`,
    );
  }
  return frame.column(target);
}

/** Runs `f`, naming the split in the errors it throws (their row numbers count within the split). */
export function inSplit<T>(split: SourceSplit, f: () => T): T {
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
