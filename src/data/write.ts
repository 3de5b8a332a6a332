/**
 * One entry point for writing a frame: the writer is chosen by the file's extension.
 */
import { extname } from 'node:path';
import { UsageError } from '../errors.ts';
import { writeCsv } from './csv-writer.ts';
import type { Frame } from './frame.ts';

/** Writes `frame` to `path` as CSV (.csv, .tsv), Parquet (.parquet) or Arrow IPC (.arrow), atomically. */
export async function writeFrame(path: string, frame: Frame): Promise<void> {
  const ext = extname(path).toLowerCase();
  switch (ext) {
    case '.csv':
      return writeCsv(path, frame);
    case '.tsv':
      return writeCsv(path, frame, { delimiter: '\t' });
    // Loaded on first use, like the readers (see read.ts).
    case '.parquet':
    case '.pq':
      return (await import('./parquet.ts')).writeParquet(path, frame);
    case '.arrow':
    case '.feather':
      return (await import('./arrow.ts')).writeArrow(path, frame);
    default:
      throw new UsageError(
        `cannot tell which format to write ${path} in from its extension '${ext}'`,
        'use .csv, .tsv, .parquet or .arrow',
      );
  }
}
