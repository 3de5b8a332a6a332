/**
 * One entry point for every data format: the reader is chosen by the file's extension.
 */
import { extname } from 'node:path';
import { UsageError } from '../errors.ts';
import { type CsvReadOptions, readCsv } from './csv-reader.ts';
import type { Frame } from './frame.ts';
import { readJsonLines } from './jsonl-reader.ts';

/** The data formats distml reads. */
export type DataFormat = 'csv' | 'jsonl' | 'parquet' | 'arrow';

const EXTENSIONS: Record<string, DataFormat> = {
  '.csv': 'csv',
  '.tsv': 'csv',
  '.txt': 'csv',
  '.jsonl': 'jsonl',
  '.ndjson': 'jsonl',
  '.parquet': 'parquet',
  '.pq': 'parquet',
  '.arrow': 'arrow',
  '.feather': 'arrow',
  '.ipc': 'arrow',
};

/** Options of {@link readFrame}. */
export interface ReadOptions extends CsvReadOptions {
  /** Overrides the format the extension implies. */
  format?: DataFormat;
}

/** The format a path's extension implies. @throws UsageError for an unknown extension */
export function formatOf(path: string): DataFormat {
  const ext = extname(path).toLowerCase();
  const format = EXTENSIONS[ext];
  if (format === undefined) {
    throw new UsageError(
      `cannot tell the format of ${path} from its extension '${ext}'`,
      `use one of ${Object.keys(EXTENSIONS).join(', ')}, or pass --format csv|jsonl|parquet|arrow`,
    );
  }
  return format;
}

/** Reads a data file of any supported format into a {@link Frame}. */
export async function readFrame(path: string, options: ReadOptions = {}): Promise<Frame> {
  const format = options.format ?? formatOf(path);
  switch (format) {
    case 'csv': {
      const delimiter = options.delimiter ?? (extname(path).toLowerCase() === '.tsv' ? '\t' : ',');
      return readCsv(path, { ...options, delimiter });
    }
    case 'jsonl':
      return readJsonLines(path);
    // Parquet and Arrow libraries load on first use: most runs never need them, and they cost
    // noticeable start-up time.
    case 'parquet':
      return (await import('./parquet.ts')).readParquet(path);
    case 'arrow':
      return (await import('./arrow.ts')).readArrow(path);
  }
}
