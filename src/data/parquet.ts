/**
 * Parquet files in and out of a {@link Frame}, through hyparquet (reading, every codec via
 * hyparquet-compressors) and hyparquet-writer.
 *
 * Only flat columns are read: numbers (booleans, integers, floats, decimals) become numeric
 * columns, UTF-8 byte arrays become categorical ones, and a Parquet null is a missing value.
 * Dates, timestamps and nested types are refused by name rather than guessed at.
 */
import { readFile } from 'node:fs/promises';
import { brotliCompressSync, gzipSync } from 'node:zlib';
import {
  type AsyncBuffer,
  type ColumnData,
  type DecodedArray,
  type FileMetaData,
  parquetMetadata,
  parquetRead,
  parquetSchema,
  type SchemaElement,
} from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import { type ColumnSource, parquetWriteBuffer } from 'hyparquet-writer';
import { cannotRead, DataFormatError, DataValueError, EmptyDataError } from '../errors.ts';
import { writeFileAtomic } from '../format/atomic-write.ts';
import { type Column, categoricalColumn, Frame, MISSING_CODE, numericColumn } from './frame.ts';

/** Compression codecs {@link writeParquet} can write. */
export type ParquetCodec = 'UNCOMPRESSED' | 'SNAPPY' | 'GZIP' | 'BROTLI';

/** Options of {@link writeParquet}. */
export interface ParquetWriteOptions {
  /** Page compression. @defaultValue `'SNAPPY'` */
  codec?: ParquetCodec;
  /**
   * Rows per row group: the unit in which cluster workers split a file they read themselves.
   * @defaultValue hyparquet-writer's: 1,000 rows in the first group, 100,000 in each later one
   */
  rowGroupSize?: number;
}

/** hyparquet-writer compresses snappy itself; node's zlib supplies the other two. */
const WRITE_COMPRESSORS = {
  GZIP: (input: Uint8Array): Uint8Array => gzipSync(input),
  BROTLI: (input: Uint8Array): Uint8Array => brotliCompressSync(input),
};

/** Integers beyond ±2^53 have no exact double. */
const MAX_EXACT = 2 ** 53;

/**
 * Reads a Parquet file into a {@link Frame}.
 * @throws DataFormatError naming the file and the fault for a file that is not valid Parquet, or for a
 *   column of a type distml cannot hold (nested, date, timestamp, binary…)
 * @throws DataValueError for a 64-bit integer beyond ±2^53, which a double cannot hold exactly
 * @throws EmptyDataError for an empty file or one with no rows
 */
export async function readParquet(path: string): Promise<Frame> {
  const bytes = await readFile(path).catch((err: unknown) => {
    throw cannotRead(path, err);
  });
  if (bytes.length === 0)
    throw new EmptyDataError(`${path} is empty`, 'a Parquet file cannot have zero bytes');
  // Small files share node's buffer pool; hyparquet needs an ArrayBuffer of exactly the file.
  const file =
    bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength
      ? (bytes.buffer as ArrayBuffer)
      : (bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);

  let metadata: FileMetaData;
  try {
    metadata = parquetMetadata(file);
  } catch (err) {
    throw new DataFormatError(
      `${path}: not a readable Parquet file: ${(err as Error).message}`,
      'check that the file is Parquet and was copied completely',
      { cause: err },
    );
  }
  return decodeParquetRows(path, file, metadata, 0, Number(metadata.num_rows));
}

/**
 * Decodes rows [rowStart, rowEnd) of a Parquet file into a frame. `file` may be the whole file
 * in memory or an {@link AsyncBuffer} that reads byte ranges on demand (a cluster worker reading
 * its row groups from shared storage or a URL). An empty row range gives an empty frame.
 */
export async function decodeParquetRows(
  path: string,
  file: ArrayBuffer | AsyncBuffer,
  metadata: FileMetaData,
  rowStart: number,
  rowEnd: number,
): Promise<Frame> {
  const fields = topLevelFields(path, metadata);
  if (metadata.num_rows > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new DataFormatError(`${path}: footer claims ${metadata.num_rows} rows`);
  }
  const total = Number(metadata.num_rows);
  if (fields.length === 0 || total === 0) {
    throw new EmptyDataError(`${path} has no data rows`, 'write at least one row and one column');
  }
  const rows = rowEnd - rowStart;
  if (rows === 0)
    return frameOf(
      path,
      fields.map((f) => emptyColumn(f)),
    );

  // Chunks are only collected here: a throw inside hyparquet's callback would go unhandled.
  const chunks = new Map<string, ColumnData[]>(fields.map((f) => [f.name, []]));
  try {
    await parquetRead({
      file,
      metadata,
      compressors,
      rowStart,
      rowEnd,
      onChunk: (chunk) => chunks.get(chunk.columnName)?.push(chunk),
    });
  } catch (err) {
    throw new DataFormatError(`${path}: cannot decode Parquet data: ${(err as Error).message}`, undefined, {
      cause: err,
    });
  }

  const columns: Column[] = fields.map((f) => {
    // Row groups may finish in any order; sorting keeps category levels in row order. Chunks may
    // reach outside the requested rows (whole pages): only the requested rows are kept.
    const parts = chunks
      .get(f.name)!
      .sort((a, b) => a.rowStart - b.rowStart)
      .map((p) => clip(p, rowStart, rowEnd))
      .filter((p) => p.rowEnd > p.rowStart);
    let covered = 0;
    for (const p of parts) {
      if (p.rowStart > covered) break;
      covered = Math.max(covered, p.rowEnd);
    }
    if (covered !== rows) {
      throw new DataFormatError(
        `${path}: column '${f.name}' decodes to ${covered} of rows ${rowStart}-${rowEnd}, the footer says ${rows}`,
      );
    }
    return f.kind === 'number' ? numbersOf(path, f.name, parts, rows) : categoriesOf(f.name, parts, rows);
  });
  return frameOf(path, columns);
}

/** `chunk` restricted to rows [start, end), with row numbers relative to `start`. */
function clip(chunk: ColumnData, start: number, end: number): ColumnData {
  const from = Math.max(chunk.rowStart, start);
  const to = Math.min(chunk.rowEnd, end);
  if (from === chunk.rowStart && to === chunk.rowEnd && start === 0) return chunk;
  return {
    ...chunk,
    columnData: chunk.columnData.slice(from - chunk.rowStart, Math.max(from, to) - chunk.rowStart),
    rowStart: from - start,
    rowEnd: Math.max(from, to) - start,
  };
}

function emptyColumn(f: ParquetField): Column {
  return f.kind === 'number'
    ? numericColumn(f.name, new Float64Array(0))
    : categoricalColumn(f.name, new Int32Array(0), []);
}

/**
 * Writes a frame as Parquet: numeric columns as nullable DOUBLE (NaN written as null), categorical
 * ones as nullable STRING. The file is built in memory, then written atomically.
 */
export async function writeParquet(
  path: string,
  frame: Frame,
  options: ParquetWriteOptions = {},
): Promise<void> {
  const columnData: ColumnSource[] = frame.columns.map((c) =>
    c.kind === 'number'
      ? { name: c.name, data: nullableNumbers(c.values), type: 'DOUBLE', nullable: true }
      : { name: c.name, data: nullableStrings(c.codes, c.levels), type: 'STRING', nullable: true },
  );
  const buffer = parquetWriteBuffer({
    columnData,
    codec: options.codec ?? 'SNAPPY',
    compressors: WRITE_COMPRESSORS,
    ...(options.rowGroupSize === undefined ? {} : { rowGroupSize: options.rowGroupSize }),
  });
  await writeFileAtomic(path, new Uint8Array(buffer));
}

/** A top-level column and the kind of frame column it becomes. */
interface ParquetField {
  readonly name: string;
  readonly kind: 'number' | 'category';
}

/** The file's columns, refusing nested and non-numeric, non-text ones by name. */
function topLevelFields(path: string, metadata: FileMetaData): ParquetField[] {
  const tree = parquetSchema(metadata);
  return tree.children.map((node) => {
    const e = node.element;
    const kind = node.children.length > 0 || e.repetition_type === 'REPEATED' ? undefined : kindOf(e);
    if (kind === undefined) {
      throw new DataFormatError(
        `${path}: column '${e.name}' has Parquet type ${describe(e, node.children.length > 0)}, which distml cannot read`,
        'flatten nested columns, and store dates and times as numbers (e.g. epoch seconds) or strings',
      );
    }
    return { name: e.name, kind };
  });
}

/** The frame kind of a flat Parquet column, or undefined when distml has no faithful mapping. */
function kindOf(e: SchemaElement): 'number' | 'category' | undefined {
  const logical = e.logical_type?.type;
  const converted = e.converted_type;
  switch (e.type) {
    case 'BOOLEAN':
    case 'FLOAT':
    case 'DOUBLE':
      return logical === undefined && converted === undefined ? 'number' : undefined;
    case 'INT32':
    case 'INT64':
      if (converted === 'DECIMAL' || logical === 'DECIMAL' || logical === 'INTEGER') return 'number';
      if (converted !== undefined)
        return converted.startsWith('INT_') || converted.startsWith('UINT_') ? 'number' : undefined;
      return logical === undefined ? 'number' : undefined;
    case 'FIXED_LEN_BYTE_ARRAY':
      return logical === 'FLOAT16' || converted === 'DECIMAL' ? 'number' : undefined;
    case 'BYTE_ARRAY':
      if (converted === 'DECIMAL') return 'number';
      // Unannotated byte arrays are text in practice; hyparquet decodes them as UTF-8.
      if (converted === undefined && logical === undefined) return 'category';
      return converted === 'UTF8' || converted === 'ENUM' || logical === 'STRING' || logical === 'ENUM'
        ? 'category'
        : undefined;
    default:
      return undefined;
  }
}

/** A Parquet type as the user would search for it, e.g. `INT64 (TIMESTAMP_MICROS)`. */
function describe(e: SchemaElement, nested: boolean): string {
  if (nested) return `group${e.converted_type === undefined ? '' : ` (${e.converted_type})`}`;
  const note = e.logical_type?.type ?? e.converted_type;
  const repeated = e.repetition_type === 'REPEATED' ? 'repeated ' : '';
  return `${repeated}${e.type ?? 'unknown'}${note === undefined ? '' : ` (${note})`}`;
}

function numbersOf(path: string, name: string, parts: readonly ColumnData[], rows: number): Column {
  const out = new Float64Array(rows);
  for (const { columnData: data, rowStart } of parts) {
    if (isPlainNumberArray(data)) {
      out.set(data, rowStart);
      continue;
    }
    // Nullable columns arrive as plain arrays (null marks a missing value); 64-bit ones as bigints.
    const n = data.length;
    for (let i = 0; i < n; i++) {
      const v: unknown = data[i];
      if (typeof v === 'number') out[rowStart + i] = v;
      else if (v === null || v === undefined) out[rowStart + i] = Number.NaN;
      else if (typeof v === 'bigint') {
        if (v > MAX_EXACT || v < -MAX_EXACT) {
          throw new DataValueError(
            `${path}: column '${name}' row ${rowStart + i + 1}: integer ${v} is beyond ±2^53 and has no exact double`,
            'store such ids as strings, or scale the values down',
          );
        }
        out[rowStart + i] = Number(v);
      } else if (typeof v === 'boolean') out[rowStart + i] = v ? 1 : 0;
      else {
        throw new DataFormatError(
          `${path}: column '${name}' row ${rowStart + i + 1}: unexpected value ${String(v)}`,
        );
      }
    }
  }
  return numericColumn(name, out);
}

/** Typed arrays of plain numbers copy in one `set`; bigint arrays and boxed arrays need a loop. */
function isPlainNumberArray(
  data: DecodedArray,
): data is Exclude<DecodedArray, BigInt64Array | BigUint64Array | unknown[]> {
  return ArrayBuffer.isView(data) && !(data instanceof BigInt64Array) && !(data instanceof BigUint64Array);
}

function categoriesOf(name: string, parts: readonly ColumnData[], rows: number): Column {
  const codes = new Int32Array(rows);
  const levels: string[] = [];
  const index = new Map<string, number>();
  for (const { columnData: data, rowStart } of parts) {
    const n = data.length;
    for (let i = 0; i < n; i++) {
      const v: unknown = data[i];
      if (typeof v !== 'string') {
        codes[rowStart + i] = MISSING_CODE;
        continue;
      }
      let code = index.get(v);
      if (code === undefined) {
        code = levels.length;
        index.set(v, code);
        levels.push(v);
      }
      codes[rowStart + i] = code;
    }
  }
  return categoricalColumn(name, codes, levels);
}

/** hyparquet-writer takes nulls, not NaN; a column without missing values goes as it is. */
function nullableNumbers(values: Float64Array): Float64Array | (number | null)[] {
  const n = values.length;
  let i = 0;
  while (i < n && !Number.isNaN(values[i]!)) i++;
  if (i === n) return values;
  const out = new Array<number | null>(n);
  for (let r = 0; r < n; r++) {
    const v = values[r]!;
    out[r] = Number.isNaN(v) ? null : v;
  }
  return out;
}

function nullableStrings(codes: Int32Array, levels: readonly string[]): (string | null)[] {
  const n = codes.length;
  const out = new Array<string | null>(n);
  for (let r = 0; r < n; r++) {
    const code = codes[r]!;
    out[r] = code === MISSING_CODE ? null : levels[code]!;
  }
  return out;
}

/** The frame, with a duplicate column name reported against the file. */
function frameOf(path: string, columns: Column[]): Frame {
  try {
    return new Frame(columns);
  } catch (err) {
    throw new DataFormatError(`${path}: ${(err as Error).message}`, undefined, { cause: err });
  }
}
