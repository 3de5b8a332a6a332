/**
 * CSV files split into byte ranges that separate readers parse on their own (Hadoop's rule): the
 * range [a, b) owns every line that starts in it. Its reader skips the partial line at its start
 * (the previous range finishes it), reads past b to finish its own last line, and parses what it
 * owns with the header prepended. Every data line is owned by exactly one range, so the ranges of a
 * file give each row exactly once, in file order.
 *
 * The one thing this cannot split is a quoted field holding a line break: a reader cannot tell,
 * from the middle of a file, whether a line break sits inside quotes. Such a field leaves an odd
 * number of quote characters on its line, which the readers detect and refuse with a clear error.
 */
import { DataFormatError, EmptyDataError } from '../errors.ts';
import type { ByteSource } from './byte-source.ts';
import { parseCsvBytes, parseCsvStream } from './csv-reader.ts';
import { type Column, categoricalColumn, Frame, numericColumn } from './frame.ts';

const LF = 10;
const CR = 13;
const QUOTE = 34;
/** Bytes of the head sample that decides the column kinds. */
export const HEAD_SAMPLE_BYTES = 1024 * 1024;
/** Bytes read at a time while finishing a range's last line. */
const TAIL_STEP = 64 * 1024;

/** A CSV file's layout as the driver learns it from the first bytes, without reading the rows. */
export interface CsvLayout {
  /** Field delimiter (one byte). */
  readonly delimiter: string;
  /** Column names and kinds from the header and the head sample (and `--categorical`). */
  readonly columns: ReadonlyArray<{ readonly name: string; readonly kind: 'number' | 'category' }>;
  /** Offset of the byte after the header line: where the data lines start. */
  readonly dataStart: number;
  readonly size: number;
}

/** `size` bytes cut into `parts` ranges [a, b) of nearly equal length, covering [0, size). */
export function byteRanges(size: number, parts: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let i = 0; i < parts; i++)
    out.push([Math.floor((size * i) / parts), Math.floor((size * (i + 1)) / parts)]);
  return out;
}

/**
 * Learns the header and the column kinds from the first bytes of `source`.
 * @param categorical - columns to read as categories even when they look numeric
 */
export async function csvLayout(
  source: ByteSource,
  delimiter: string,
  categorical: readonly string[] = [],
): Promise<CsvLayout> {
  const size = await source.size();
  if (size === 0) throw new EmptyDataError(`${source.location} is empty`, 'a CSV file needs a header row');
  const head = await source.read(0, Math.min(size, HEAD_SAMPLE_BYTES));
  const headerEnd = head.indexOf(LF);
  if (headerEnd < 0 && size > head.length) {
    throw new DataFormatError(
      `${source.location}: no line break in the first ${head.length} bytes`,
      'the header line must be shorter than 1 MiB',
    );
  }
  const dataStart = headerEnd < 0 ? size : headerEnd + 1;
  // Whole lines only: the sample ends at its last line break unless it is the whole file.
  const end = head.length === size ? head.length : head.lastIndexOf(LF) + 1;
  checkLines(head, 0, end, source.location, 0);
  const sample = Buffer.alloc(end + 1);
  head.copy(sample, 0, 0, end);
  const frame = parseCsvBytes(sample, end, source.location, { delimiter, categorical, allowEmpty: true });
  return {
    delimiter,
    columns: frame.columns.map((c) => ({ name: c.name, kind: c.kind })),
    dataStart,
    size,
  };
}

/**
 * The lines owned by range [a, b): their bytes, and where they start and end in the file.
 * @returns an empty span (start === end) when no line starts in the range
 */
export async function ownedSpan(
  source: ByteSource,
  layout: CsvLayout,
  a: number,
  b: number,
): Promise<{ start: number; end: number; bytes: Buffer }> {
  const { start, end } = await ownedBounds(source, layout, a, b);
  return { start, end, bytes: start === end ? Buffer.alloc(0) : await source.read(start, end) };
}

/** Where the lines owned by range [a, b) start and end, reading only a few bytes around a and b. */
async function ownedBounds(
  source: ByteSource,
  layout: CsvLayout,
  a: number,
  b: number,
): Promise<{ start: number; end: number }> {
  const hi = Math.min(b, layout.size);
  // A range that begins inside the header starts at the first data line; one that begins later
  // owns the line at a only if the byte before a ends a line.
  const start = a <= layout.dataStart ? layout.dataStart : await lineAfter(source, a - 1, layout.size);
  if (start >= hi) return { start: hi, end: hi };
  // The last line owned is the one holding byte hi - 1: it ends at the first line break from there.
  return { start, end: await lineAfter(source, hi - 1, layout.size) };
}

/** The offset after the first line break at or after `from`, or `size` when none follows. */
async function lineAfter(source: ByteSource, from: number, size: number): Promise<number> {
  for (let at = from; at < size; at += TAIL_STEP) {
    const bytes = await source.read(at, Math.min(size, at + TAIL_STEP));
    const lf = bytes.indexOf(LF);
    if (lf >= 0) return at + lf + 1;
  }
  return size;
}

/** Options of {@link readCsvRange}. */
export interface CsvRangeReadOptions {
  /** Bytes read per chunk. @defaultValue 4 MiB */
  chunkBytes?: number;
}

/**
 * Reads the rows of range [a, b) of a CSV file: the lines it owns, parsed with the file's header
 * and with the column kinds of `layout` (a numeric column that holds text there is an error that
 * names the column and suggests `--categorical`).
 */
export async function readCsvRange(
  source: ByteSource,
  layout: CsvLayout,
  a: number,
  b: number,
  options: CsvRangeReadOptions = {},
): Promise<Frame> {
  return (await readCsvRangeKeyed(source, layout, a, b, options)).frame;
}

/**
 * {@link readCsvRange}, with the file offset at which each row's line starts (`keys[i]` for row i):
 * what names a row independently of where the ranges are cut. The range streams through one
 * reused buffer, as `readCsv` reads a whole file: a split of hundreds of megabytes is never held
 * whole (reading it whole, into memory written for the first time, took 2.6× longer).
 */
export async function readCsvRangeKeyed(
  source: ByteSource,
  layout: CsvLayout,
  a: number,
  b: number,
  options: CsvRangeReadOptions = {},
): Promise<{ frame: Frame; keys: Float64Array }> {
  const { start, end } = await ownedBounds(source, layout, a, b);
  if (start === end) return { frame: emptyFrame(layout), keys: new Float64Array(0) };
  const where = `${source.location} (range from byte ${start}; line 1 = the header)`;
  // The parser reads the header, then the range's lines.
  const header = await source.read(0, layout.dataStart);
  const body = source.stream(start, end);
  let streamed = 0;
  const read = async (buf: Buffer, at: number, length: number): Promise<number> => {
    let n =
      streamed < header.length
        ? header.copy(buf, at, streamed, Math.min(header.length, streamed + length))
        : 0;
    if (n < length) n += await body.readInto(buf, at + n, length - n);
    streamed += n;
    return n;
  };
  // Lines are checked, and their starts kept, before the parser reads them: whole lines only.
  const keys = new LineStarts();
  let inspected = header.length;
  const inspect = (buf: Buffer, filled: number, offset: number, eof: boolean): void => {
    const from = inspected - offset;
    // The parser consumes whole records only, which end at a line feed once lone CRs are refused.
    if (from < 0) throw new RangeError(`the CSV parser read past the checked lines of ${where}`);
    const to = eof ? filled : buf.lastIndexOf(LF, filled - 1) + 1;
    // File offset of buf[0] (negative while the header is in the buffer).
    const base = start - header.length + offset;
    // A lone CR in the unfinished last line would end a record there for the parser.
    refuseLoneCarriageReturns(buf.subarray(0, filled), Math.max(from, to), source.location, base);
    if (to <= from) return;
    checkLines(buf, from, to, source.location, base);
    keys.add(buf, from, to, base);
    inspected = offset + to;
  };
  try {
    const frame = await parseCsvStream(
      where,
      {
        delimiter: layout.delimiter,
        categorical: layout.columns.filter((c) => c.kind === 'category').map((c) => c.name),
        strictKinds: true,
        allowEmpty: true,
        ...(options.chunkBytes === undefined ? {} : { chunkBytes: options.chunkBytes }),
      },
      header.length + end - start,
      read,
      inspect,
    );
    if (keys.count !== frame.rows) {
      throw new DataFormatError(
        `${where}: ${frame.rows} rows parsed from ${keys.count} non-blank lines`,
        'a row spans lines or a line holds no row: report this with the file',
      );
    }
    return { frame, keys: keys.finish() };
  } finally {
    await body.close();
  }
}

/**
 * The file offsets of the lines that hold a row: every line but blank ones (which the parser
 * skips), since no quoted field spans lines here (checkLines refuses those).
 */
class LineStarts {
  private offsets = new Float64Array(1024);
  count = 0;

  /**
   * Adds the lines of `bytes[from, to)`; a line starts at `from`.
   * @param base - file offset of `bytes[0]`
   */
  add(bytes: Buffer, from: number, to: number, base: number): void {
    for (let pos = from; pos < to; ) {
      let next = bytes.indexOf(LF, pos);
      if (next < 0 || next >= to) next = to;
      if (bytes[pos] !== LF && bytes[pos] !== CR) {
        if (this.count === this.offsets.length) {
          const grown = new Float64Array(this.offsets.length * 2);
          grown.set(this.offsets);
          this.offsets = grown;
        }
        this.offsets[this.count++] = base + pos;
      }
      pos = next + 1;
    }
  }

  finish(): Float64Array {
    return this.offsets.slice(0, this.count);
  }
}

/**
 * Where data row `row` (counted from 0 within range [a, b)) and its field `field` sit, as
 * `FILE (range from byte S; line 1 = the header):LINE:COLUMN`: the way this range's parse errors
 * name a place (LINE counts the header as 1, and blank lines; COLUMN is the byte in the line, from
 * 1). For messages about a value found after parsing; it reads the range again.
 */
export async function rangeRowPosition(
  source: ByteSource,
  layout: CsvLayout,
  a: number,
  b: number,
  row: number,
  field: number,
): Promise<string> {
  const { start, bytes } = await ownedSpan(source, layout, a, b);
  const where = `${source.location} (range from byte ${start}; line 1 = the header)`;
  const delimiter = layout.delimiter.charCodeAt(0);
  let line = 2;
  let seen = 0;
  for (let pos = 0; pos < bytes.length; line++) {
    let next = bytes.indexOf(LF, pos);
    if (next < 0) next = bytes.length;
    // Blank lines carry no row (as the parser reads them).
    const blank = next === pos || (next === pos + 1 && bytes[pos] === CR);
    if (!blank && seen++ === row) {
      // Quoted fields never span lines here (checkLines refuses them), so quotes only hide delimiters.
      let quoted = false;
      let j = 0;
      for (let i = pos; i < next; i++) {
        if (j === field) return `${where}:${line}:${i - pos + 1}`;
        const c = bytes[i]!;
        if (c === QUOTE) quoted = !quoted;
        else if (c === delimiter && !quoted) j++;
      }
      return `${where}:${line}:${next - pos + 1}`;
    }
    pos = next + 1;
  }
  return `${where}, data row ${row + 1}`;
}

function emptyFrame(layout: CsvLayout): Frame {
  const columns: Column[] = layout.columns.map((c) =>
    c.kind === 'number'
      ? numericColumn(c.name, new Float64Array(0))
      : categoricalColumn(c.name, new Int32Array(0), []),
  );
  return new Frame(columns);
}

/**
 * Refuses lines that a byte-range split would cut wrongly: a line with an odd number of quote
 * characters (a quoted field continues on the next line), or a lone CR used as the line break.
 * @param offset - file offset of `buf[0]`, for the message
 */
function checkLines(buf: Buffer, from: number, to: number, location: string, offset: number): void {
  // Most files hold no quote: then only a CR can be wrong, and indexOf finds those far faster
  // than a loop over every byte (a 490 MB range: 4.5 s for the loop).
  const span = buf.subarray(from, to);
  if (span.indexOf(QUOTE) < 0) {
    refuseLoneCarriageReturns(span, 0, location, offset + from);
    return;
  }
  let quotes = 0;
  let lineStart = from;
  for (let i = from; i < to; i++) {
    const c = buf[i]!;
    if (c === QUOTE) quotes++;
    else if (c === CR && i + 1 < to && buf[i + 1] !== LF) throw loneCarriageReturn(location, offset + i);
    else if (c === LF) {
      if (quotes % 2 === 1) throw quotedBreak(location, offset + lineStart);
      quotes = 0;
      lineStart = i + 1;
    }
  }
  if (quotes % 2 === 1) throw quotedBreak(location, offset + lineStart);
}

/**
 * Refuses a CR in `bytes[from, …)` followed by anything but a LF (a CR as the last byte waits for
 * the byte after it).
 * @param offset - file offset of `bytes[0]`
 */
function refuseLoneCarriageReturns(bytes: Buffer, from: number, location: string, offset: number): void {
  for (let cr = bytes.indexOf(CR, from); cr >= 0; cr = bytes.indexOf(CR, cr + 1))
    if (cr + 1 < bytes.length && bytes[cr + 1] !== LF) throw loneCarriageReturn(location, offset + cr);
}

function loneCarriageReturn(location: string, at: number): DataFormatError {
  return new DataFormatError(
    `${location}: a carriage return without a line feed at byte ${at}: old Mac line breaks cannot be split into byte ranges`,
    'convert the line breaks to \\n or \\r\\n, or train without --shared-data',
  );
}

function quotedBreak(location: string, at: number): DataFormatError {
  return new DataFormatError(
    `${location}: the line at byte ${at} has a quoted field that continues on the next line; --shared-data splits files at line breaks and cannot read such fields`,
    'remove the line breaks inside quoted fields, convert the file to Parquet, or train without --shared-data',
  );
}
