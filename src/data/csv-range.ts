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
import { parseCsvBytes } from './csv-reader.ts';
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
 * Where the lines owned by range [a, b) start and end, reading only around the range.
 * @returns `[start, end)` byte offsets, or an empty span (start === end) when no line starts in it
 */
export async function ownedSpan(
  source: ByteSource,
  layout: CsvLayout,
  a: number,
  b: number,
): Promise<{ start: number; end: number; bytes: Buffer }> {
  const { start, end, pieces } = await ownedPieces(source, layout, a, b);
  return { start, end, bytes: pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces) };
}

/**
 * {@link ownedSpan}, its bytes left in the pieces they were read in: joining hundreds of megabytes
 * is a copy, which the caller makes once, into the buffer it parses.
 */
async function ownedPieces(
  source: ByteSource,
  layout: CsvLayout,
  a: number,
  b: number,
): Promise<{ start: number; end: number; pieces: Buffer[] }> {
  const size = layout.size;
  const hi = Math.min(b, size);
  // A range that begins inside the header starts at the first data line; one that begins later
  // owns the line at a only if the byte before a ends a line.
  const lo = a <= layout.dataStart ? layout.dataStart : a - 1;
  if (lo >= hi) return { start: hi, end: hi, pieces: [] };
  let body = await source.read(lo, hi);
  let start = lo;
  if (a > layout.dataStart) {
    const lf = body.indexOf(LF);
    if (lf < 0 || lo + lf + 1 >= hi) return { start: hi, end: hi, pieces: [] };
    start = lo + lf + 1;
    body = body.subarray(lf + 1);
  }
  // Finish the last line: read on from b to the next line break (or the end of the file).
  const tails: Buffer[] = [body];
  let end = hi;
  let last = body.length > 0 ? body[body.length - 1] : LF;
  while (last !== LF && end < size) {
    const more = await source.read(end, Math.min(size, end + TAIL_STEP));
    const lf = more.indexOf(LF);
    const take = lf < 0 ? more : more.subarray(0, lf + 1);
    tails.push(take);
    end += take.length;
    last = lf < 0 ? (more[more.length - 1] ?? LF) : LF;
  }
  return { start, end, pieces: tails };
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
): Promise<Frame> {
  return (await readCsvRangeKeyed(source, layout, a, b)).frame;
}

/**
 * {@link readCsvRange}, with the file offset at which each row's line starts (`keys[i]` for row i):
 * what names a row independently of where the ranges are cut.
 */
export async function readCsvRangeKeyed(
  source: ByteSource,
  layout: CsvLayout,
  a: number,
  b: number,
): Promise<{ frame: Frame; keys: Float64Array }> {
  const { start, end, pieces } = await ownedPieces(source, layout, a, b);
  if (start === end) return { frame: emptyFrame(layout), keys: new Float64Array(0) };
  const where = `${source.location} (range from byte ${start}; line 1 = the header)`;
  // The header, the range's lines and the parser's 0 byte, joined in one copy.
  const header = await source.read(0, layout.dataStart);
  const length = header.length + pieces.reduce((n, piece) => n + piece.length, 0);
  const text = Buffer.allocUnsafe(length + 1);
  header.copy(text, 0);
  let at = header.length;
  for (const piece of pieces) at += piece.copy(text, at);
  text[length] = 0;
  const bytes = text.subarray(header.length, length);
  checkLines(bytes, 0, bytes.length, source.location, start);
  const frame = parseCsvBytes(text, length, where, {
    delimiter: layout.delimiter,
    categorical: layout.columns.filter((c) => c.kind === 'category').map((c) => c.name),
    strictKinds: true,
    allowEmpty: true,
  });
  const keys = lineStarts(bytes, start);
  if (keys.length !== frame.rows) {
    throw new DataFormatError(
      `${where}: ${frame.rows} rows parsed from ${keys.length} non-blank lines`,
      'a row spans lines or a line holds no row: report this with the file',
    );
  }
  return { frame, keys };
}

/**
 * The file offsets of the lines in `bytes` that hold a row: every line but blank ones (which the
 * parser skips), since no quoted field spans lines here (checkLines refuses those).
 * @param offset - file offset of `bytes[0]`
 */
function lineStarts(bytes: Buffer, offset: number): Float64Array {
  let n = 0;
  for (let pos = 0; pos < bytes.length; ) {
    let next = bytes.indexOf(LF, pos);
    if (next < 0) next = bytes.length;
    if (bytes[pos] !== LF && bytes[pos] !== CR) n++;
    pos = next + 1;
  }
  const keys = new Float64Array(n);
  let i = 0;
  for (let pos = 0; pos < bytes.length; ) {
    let next = bytes.indexOf(LF, pos);
    if (next < 0) next = bytes.length;
    if (bytes[pos] !== LF && bytes[pos] !== CR) keys[i++] = offset + pos;
    pos = next + 1;
  }
  return keys;
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
    for (let cr = span.indexOf(CR); cr >= 0; cr = span.indexOf(CR, cr + 1))
      if (cr + 1 < span.length && span[cr + 1] !== LF) throw loneCarriageReturn(location, offset + from + cr);
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
