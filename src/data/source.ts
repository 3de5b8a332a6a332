/**
 * A data file that workers read part by part: the driver plans the splits from the file's size
 * and its first bytes (CSV) or footer (Parquet), without reading rows; each split is plain data
 * (its lineage) from which any worker reads its rows: a byte range aligned to lines for CSV, whole
 * row groups for Parquet. Reading a split is a pure function of it, so a split lost with its worker
 * is read again elsewhere and gives the same rows.
 */
import { extname, resolve } from 'node:path';
import type { FileMetaData } from 'hyparquet';
import { DataFormatError, UsageError } from '../errors.ts';
import { type ByteSource, isUrl, openByteSource, redactedUrl } from './byte-source.ts';
import { byteRanges, csvLayout, rangeRowPosition, readCsvRangeKeyed } from './csv-range.ts';
import type { Frame } from './frame.ts';
import { formatOf } from './read.ts';

/** A column of a source, as every split reads it. */
export interface SourceColumn {
  readonly name: string;
  readonly kind: 'number' | 'category';
}

/** One CSV split: the lines that start in bytes [start, end). */
export interface CsvSplit {
  readonly format: 'csv';
  readonly location: string;
  readonly delimiter: string;
  readonly columns: readonly SourceColumn[];
  /** Where the data lines start (after the header). */
  readonly dataStart: number;
  /** File size when planned: a file that changed size since is refused. */
  readonly size: number;
  /** {@link ByteSource.version} when planned: a file rewritten since, even at its size, is refused. */
  readonly version: string;
  readonly start: number;
  readonly end: number;
}

/** One Parquet split: rows [rowStart, rowEnd), whole row groups. */
export interface ParquetSplit {
  readonly format: 'parquet';
  readonly location: string;
  readonly size: number;
  readonly version: string;
  readonly rowStart: number;
  readonly rowEnd: number;
}

/** The lineage of one partition: what to read. */
export type SourceSplit = CsvSplit | ParquetSplit;

/** A source planned into splits. */
export interface SourcePlan {
  readonly location: string;
  readonly format: 'csv' | 'parquet';
  readonly columns: readonly SourceColumn[];
  readonly splits: readonly SourceSplit[];
}

/** Options of {@link planSource}. */
export interface SourceOptions {
  /** Number of splits. */
  readonly partitions: number;
  /** CSV delimiter. @defaultValue `,` (a tab for .tsv) */
  readonly delimiter?: string;
  /** CSV columns to read as categories even when they look numeric. */
  readonly categorical?: readonly string[];
}

/** The formats that can be split: CSV (and TSV) by byte ranges, Parquet by row groups. */
export function splittableFormat(location: string): 'csv' | 'parquet' {
  const path = isUrl(location) ? new URL(location).pathname : location;
  const format = formatOf(path);
  if (format !== 'csv' && format !== 'parquet') {
    throw new UsageError(
      `--shared-data reads CSV/TSV and Parquet files; ${redactedUrl(location)} is ${format}`,
      'convert it to CSV or Parquet (distml generate and predict --out write Parquet), or train without --shared-data',
    );
  }
  return format;
}

/**
 * Plans `location` into splits, reading only its size and its header or footer. A relative path is
 * made absolute against this process's working directory: the splits are read by workers whose
 * working directories may differ, so a split names the file the caller meant, wherever it is read.
 */
export async function planSource(given: string, options: SourceOptions): Promise<SourcePlan> {
  const location = isUrl(given) ? given : resolve(given);
  const format = splittableFormat(location);
  const source = openByteSource(location);
  if (format === 'parquet') return planParquet(location, source, options.partitions);
  const path = isUrl(location) ? new URL(location).pathname : location;
  const delimiter = options.delimiter ?? (extname(path).toLowerCase() === '.tsv' ? '\t' : ',');
  const layout = await csvLayout(source, delimiter, options.categorical ?? []);
  const version = await source.version();
  const splits: CsvSplit[] = byteRanges(layout.size, options.partitions).map(([start, end]) => ({
    format: 'csv',
    location,
    delimiter,
    columns: layout.columns,
    dataStart: layout.dataStart,
    size: layout.size,
    version,
    start,
    end,
  }));
  return { location, format, columns: layout.columns, splits };
}

/** Reads the rows of one split. */
export async function readSplit(split: SourceSplit): Promise<Frame> {
  return (await readSplitKeyed(split)).frame;
}

/**
 * Reads the rows of one split with each row's key: its place in the file, the same whichever split
 * holds it (the byte offset where its line starts for CSV, its row index from 0 for Parquet).
 */
export async function readSplitKeyed(split: SourceSplit): Promise<{ frame: Frame; keys: Float64Array }> {
  const source = openByteSource(split.location);
  const size = await source.size();
  if (size !== split.size) {
    throw new DataFormatError(
      `${redactedUrl(split.location)} is ${size} bytes now, but was ${split.size} bytes when training started`,
      'the file changed during training: keep it unchanged until the fit ends',
    );
  }
  const version = await source.version();
  if (version !== split.version) {
    throw new DataFormatError(
      `${redactedUrl(split.location)} was rewritten after training started (${split.version || 'no version'} then, ${version || 'no version'} now)`,
      'the file changed during training: keep it unchanged until the fit ends',
    );
  }
  if (split.format === 'csv') {
    return readCsvRangeKeyed(
      source,
      { delimiter: split.delimiter, columns: split.columns, dataStart: split.dataStart, size },
      split.start,
      split.end,
    );
  }
  const { decodeParquetRows } = await import('./parquet.ts');
  const { file, metadata } = await parquetFooter(source);
  const frame = await decodeParquetRows(
    redactedUrl(split.location),
    file,
    metadata,
    split.rowStart,
    split.rowEnd,
  );
  const keys = new Float64Array(frame.rows);
  for (let i = 0; i < keys.length; i++) keys[i] = split.rowStart + i;
  return { frame, keys };
}

/**
 * Where data row `row` (counted from 0 within the split) and its column `column` are, for a
 * message about a value found after reading: `FILE (range from byte S; line 1 = the header):LINE:COL`
 * for CSV (as the split's parse errors say it), `FILE, data row N, column 'C'` for Parquet (N counts
 * from the file's first row).
 */
export async function splitRowPosition(split: SourceSplit, row: number, column: string): Promise<string> {
  if (split.format === 'parquet')
    return `${redactedUrl(split.location)}, data row ${split.rowStart + row + 1}, column '${column}'`;
  const field = split.columns.findIndex((c) => c.name === column);
  const layout = {
    delimiter: split.delimiter,
    columns: split.columns,
    dataStart: split.dataStart,
    size: split.size,
  };
  return rangeRowPosition(openByteSource(split.location), layout, split.start, split.end, row, field);
}

async function planParquet(location: string, source: ByteSource, partitions: number): Promise<SourcePlan> {
  const { file, metadata } = await parquetFooter(source);
  const { decodeParquetRows } = await import('./parquet.ts');
  // The columns and kinds as the reader maps them: decoding no rows reads only the footer.
  const empty = await decodeParquetRows(source.location, file, metadata, 0, 0);
  const total = Number(metadata.num_rows);
  // Each row group goes to the partition its first row falls in: partitions hold whole groups, in
  // file order, and about equal numbers of rows (some are empty when groups are fewer).
  const starts: number[] = [];
  const owners: number[] = [];
  let row = 0;
  for (const group of metadata.row_groups) {
    starts.push(row);
    owners.push(Math.min(partitions - 1, Math.floor((row * partitions) / total)));
    row += Number(group.num_rows);
  }
  const size = await source.size();
  const version = await source.version();
  const splits: ParquetSplit[] = [];
  let g = 0;
  let at = 0;
  for (let p = 0; p < partitions; p++) {
    while (g < owners.length && owners[g] === p) g++;
    const end = g < starts.length ? starts[g]! : total;
    splits.push({ format: 'parquet', location, size, version, rowStart: at, rowEnd: end });
    at = end;
  }
  return {
    location,
    format: 'parquet',
    columns: empty.columns.map((c) => ({ name: c.name, kind: c.kind })),
    splits,
  };
}

/** The footer of a Parquet source, and the source as the AsyncBuffer hyparquet reads from. */
async function parquetFooter(source: ByteSource): Promise<{
  file: { byteLength: number; slice(start: number, end?: number): Promise<ArrayBuffer> };
  metadata: FileMetaData;
}> {
  const { parquetMetadataAsync } = await import('hyparquet');
  const byteLength = await source.size();
  const file = {
    byteLength,
    slice: async (start: number, end = byteLength): Promise<ArrayBuffer> => {
      const bytes = await source.read(start, end);
      return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
    },
  };
  try {
    return { file, metadata: await parquetMetadataAsync(file) };
  } catch (err) {
    if (err instanceof Error && 'code' in err) throw err;
    throw new DataFormatError(
      `${source.location}: not a readable Parquet file: ${(err as Error).message}`,
      'check that the file is Parquet and was copied completely',
      { cause: err },
    );
  }
}
