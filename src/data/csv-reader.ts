/**
 * Streaming CSV reader (RFC 4180): a header row, quoted fields with doubled quotes and embedded
 * delimiters or line breaks, CRLF or LF line ends, a UTF-8 byte-order mark, any one-byte
 * delimiter. The file is read in chunks and parsed as bytes: unquoted numbers go from bytes to
 * float64 without becoming strings (see parse-number.ts), which is the fast path that plain numeric
 * files take for every field. Memory grows with the typed arrays of the result, not with the text.
 *
 * Errors name the file, line and column (1-based; the column counts bytes from the line start).
 */
import { open } from 'node:fs/promises';
import { CsvFormatError, cannotRead, DataValueError, EmptyDataError, UsageError } from '../errors.ts';
import type { Frame } from './frame.ts';
import { isMissingToken } from './missing.ts';
import { isInfinityToken, parseDecimalText, scanNumber, scanned, scannedValue } from './parse-number.ts';
import { CATEGORICAL, NUMERIC, TableBuilder } from './table-builder.ts';

/** Options of {@link readCsv} and {@link parseCsv}. */
export interface CsvReadOptions {
  /** Field delimiter, one byte. @defaultValue `','` */
  delimiter?: string;
  /** Columns to read as categories even when every value looks like a number (ids, zip codes). */
  categorical?: readonly string[];
  /** Bytes read per chunk. @defaultValue 4 MiB */
  chunkBytes?: number;
  /** A record longer than this is refused (it is almost always an unclosed quote). @defaultValue 64 MiB */
  maxRecordBytes?: number;
  /** Called after every chunk with the bytes read so far and the file size. */
  onProgress?: (bytesRead: number, totalBytes: number) => void;
  /**
   * Column kinds are decided beforehand (`categorical` lists the categorical ones): a numeric
   * column that meets text is an error naming the column, instead of becoming categorical. Readers
   * of one part of a file use this, so that every part reads each column the same way.
   */
  strictKinds?: boolean;
  /** A header with no data rows gives an empty frame instead of an error. */
  allowEmpty?: boolean;
}

const LF = 10;
const CR = 13;
const QUOTE = 34;
const MiB = 1024 * 1024;

/** Reads a CSV file into a {@link Frame}. */
export async function readCsv(path: string, options: CsvReadOptions = {}): Promise<Frame> {
  const handle = await open(path, 'r').catch((err: unknown) => {
    throw cannotRead(path, err);
  });
  try {
    const { size } = await handle.stat();
    const read = async (buf: Buffer, at: number, length: number) =>
      (await handle.read(buf, at, length, null)).bytesRead;
    return await parseCsvStream(path, options, size, read);
  } finally {
    await handle.close();
  }
}

/**
 * Parses the CSV bytes that `read` gives, chunk by chunk, in one buffer reused for every chunk:
 * the text is never held whole, and the buffer's memory is written once (memory touched for the
 * first time is slow to write).
 * @param name - stands for the file in error messages
 * @param totalBytes - the stream's length, from which the columns are sized
 * @param read - writes the next bytes into `buf[at, at + length)` and returns how many (0 at the end)
 * @param inspect - sees `buf[0, end)` before each parse; `buf[0]` is byte `offset` of the stream
 */
export async function parseCsvStream(
  name: string,
  options: CsvReadOptions,
  totalBytes: number,
  read: (buf: Buffer, at: number, length: number) => Promise<number>,
  inspect?: (buf: Buffer, end: number, offset: number, eof: boolean) => void,
): Promise<Frame> {
  const chunk = options.chunkBytes ?? 4 * MiB;
  const parser = new CsvParser(name, options, totalBytes);
  // One byte more than is ever filled: the parser's sentinel (see scanNumber).
  let buf = Buffer.allocUnsafe(Math.max(chunk, 64 * 1024) + 1);
  let filled = 0;
  let offset = 0;
  for (;;) {
    if (filled === buf.length - 1) {
      // One record fills the whole buffer: grow it, within the record limit.
      if (buf.length > parser.maxRecordBytes) parser.recordTooLong();
      const bigger = Buffer.allocUnsafe(Math.min(buf.length * 2, parser.maxRecordBytes + 1));
      buf.copy(bigger, 0, 0, filled);
      buf = bigger;
    }
    const n = await read(buf, filled, buf.length - 1 - filled);
    filled += n;
    buf[filled] = 0;
    const eof = n === 0;
    inspect?.(buf, filled, offset, eof);
    const consumed = parser.parse(buf, filled, eof);
    options.onProgress?.(offset + filled, totalBytes);
    if (eof) break;
    buf.copy(buf, 0, consumed, filled);
    filled -= consumed;
    offset += consumed;
  }
  return parser.finish();
}

/** Parses CSV text held in memory; `name` stands for the file in error messages. */
export function parseCsv(text: string, name = '<text>', options: CsvReadOptions = {}): Frame {
  const length = Buffer.byteLength(text);
  const bytes = Buffer.alloc(length + 1); // zero-filled: the last byte is the parser's sentinel
  bytes.write(text, 'utf8');
  const parser = new CsvParser(name, options, length);
  parser.parse(bytes, length, true);
  return parser.finish();
}

/**
 * Parses CSV bytes held in memory: bytes [0, length) of `bytes`, where `bytes[length]` must exist
 * and hold 0 (the number scanner's sentinel). `name` stands for the file in error messages.
 */
export function parseCsvBytes(
  bytes: Buffer,
  length: number,
  name: string,
  options: CsvReadOptions = {},
): Frame {
  if (bytes[length] !== 0) throw new RangeError('parseCsvBytes needs a 0 byte after the text');
  const parser = new CsvParser(name, options, length);
  parser.parse(bytes, length, true);
  return parser.finish();
}

/** The incremental parser behind {@link readCsv}: feed it buffers, it consumes whole records. */
class CsvParser {
  readonly maxRecordBytes: number;
  private readonly delimiter: number;
  private readonly categorical: ReadonlySet<string>;
  private readonly strictKinds: boolean;
  private readonly allowEmpty: boolean;
  private header: string[] | null = null;
  private table: TableBuilder | null = null;
  /** Every column is numeric: records may take {@link CsvParser.numericRecord}. */
  private allNumeric = false;
  private numericMisses = 0;
  private rows = 0;
  /** 1-based line number of the next record. */
  private line = 1;
  private bytesConsumed = 0;
  private estimated = false;
  private started = false;

  constructor(
    private readonly file: string,
    options: CsvReadOptions,
    private readonly totalBytes: number,
  ) {
    const delimiter = options.delimiter ?? ',';
    if (Buffer.byteLength(delimiter) !== 1 || delimiter === '"' || delimiter === '\n' || delimiter === '\r') {
      throw new UsageError(
        `--delimiter must be a single one-byte character other than a quote or line break, got ${JSON.stringify(delimiter)}`,
      );
    }
    this.delimiter = delimiter.charCodeAt(0);
    this.categorical = new Set(options.categorical ?? []);
    this.strictKinds = options.strictKinds ?? false;
    this.allowEmpty = options.allowEmpty ?? false;
    this.maxRecordBytes = options.maxRecordBytes ?? 64 * MiB;
  }

  recordTooLong(): never {
    throw new CsvFormatError(
      this.file,
      this.line,
      1,
      `record longer than ${Math.round(this.maxRecordBytes / MiB)} MiB`,
      'this is almost always an unclosed quote on this line',
    );
  }

  /**
   * Parses the complete records in buf[0, end). @returns the offset just past the last complete
   * record; the caller keeps the rest and feeds it again with more bytes. With `eof`, everything is
   * consumed. `buf[end]` must hold 0 (the number scanner's sentinel).
   */
  parse(buf: Buffer, end: number, eof: boolean): number {
    let pos = 0;
    if (!this.started) {
      if (end < 3 && !eof) return 0;
      this.started = true;
      if (buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf) pos = 3; // UTF-8 byte-order mark
    }
    const delim = this.delimiter;
    let table = this.table;
    let consumed = pos; // end of the last complete record (or blank line)
    records: while (pos < end) {
      const recordStart = pos;
      const first = buf[pos]!;
      // Blank lines carry no record.
      if (first === LF) {
        consumed = ++pos;
        this.line++;
        continue;
      }
      if (first === CR) {
        if (pos + 1 >= end && !eof) break;
        pos += buf[pos + 1] === LF ? 2 : 1;
        consumed = pos;
        this.line++;
        continue;
      }
      const row = this.rows;
      if (table !== null && row >= table.capacity) table.reserve(this.estimateRows(row + 1));
      if (this.allNumeric) {
        const next = this.numericRecord(buf, pos, end, row);
        if (next >= 0) {
          this.rows++;
          this.line++;
          this.bytesConsumed += next - pos;
          consumed = pos = next;
          if (!this.estimated && this.rows >= 1000) this.estimate();
          continue;
        }
        // A file whose records often miss it (missing values, say) parses them twice: stop trying.
        if (++this.numericMisses > 64 && this.numericMisses * 8 > this.rows) this.allNumeric = false;
      }
      let line = this.line; // line of the current position (quoted fields may span lines)
      let lineStart = pos;
      let field = 0;
      const headerFields: string[] | null = this.header === null ? [] : null;
      const width = table === null ? Number.POSITIVE_INFINITY : table.kinds.length;
      for (;;) {
        const fieldStart = pos;
        let c = -1;
        if (pos < end && buf[pos] === QUOTE) {
          // Quoted field: find the closing quote, skipping doubled quotes.
          let q = pos + 1;
          let escapes = false;
          for (;;) {
            while (q < end && buf[q] !== QUOTE) {
              if (buf[q] === LF) {
                line++;
                lineStart = q + 1;
              }
              q++;
            }
            if (q + 1 < end && buf[q + 1] === QUOTE) {
              escapes = true;
              q += 2;
              continue;
            }
            break;
          }
          if (q >= end || (q + 1 >= end && !eof)) {
            if (!eof) break records;
            throw new CsvFormatError(
              this.file,
              this.lineOf(buf, recordStart, fieldStart),
              this.columnOf(buf, fieldStart),
              'unclosed quote: the quoted field that starts here never ends',
              'close the quote, or double any quote inside the field ("")',
            );
          }
          let text = buf.toString('utf8', pos + 1, q);
          if (escapes) text = text.replaceAll('""', '"');
          pos = q + 1;
          c = pos < end ? buf[pos]! : -1;
          if (c !== -1 && c !== delim && c !== LF && c !== CR) {
            throw new CsvFormatError(
              this.file,
              line,
              pos - lineStart + 1,
              `unexpected character ${JSON.stringify(String.fromCharCode(c))} after a closing quote`,
              'a quoted field must end at a delimiter or a line end; double quotes inside it ("")',
            );
          }
          if (field >= width) this.wrongWidth(line, pos - lineStart + 1, field + 1);
          if (headerFields !== null) headerFields.push(text);
          else this.storeText(table!, field, row, text, line, fieldStart - lineStart + 1);
        } else {
          // Numeric columns parse while they scan (the fast path); others only look for the end.
          const numeric = table !== null && table.kinds[field] === NUMERIC;
          let read = false;
          if (numeric) {
            read = scanNumber(buf, pos, end, delim);
            pos = scanned.end;
          } else {
            while (pos < end) {
              c = buf[pos]!;
              if (c === delim || c === LF || c === CR) break;
              pos++;
            }
          }
          if (pos >= end) {
            if (!eof) break records;
            c = -1;
          } else c = buf[pos]!;
          if (field >= width) this.wrongWidth(line, pos - lineStart + 1, field + 1);
          if (headerFields !== null) headerFields.push(buf.toString('utf8', fieldStart, pos));
          else if (read) table!.values[field]![row] = scannedValue[0]!;
          else {
            const text = buf.toString('utf8', fieldStart, pos);
            this.storeText(table!, field, row, text, line, fieldStart - lineStart + 1);
          }
        }
        field++;
        if (c === delim) {
          pos++;
          continue;
        }
        if (c === LF) pos++;
        else if (c === CR) {
          if (pos + 1 >= end && !eof) break records; // the LF of a CRLF may be in the next chunk
          pos += buf[pos + 1] === LF ? 2 : 1;
        }
        break;
      }
      if (headerFields !== null) {
        this.setHeader(headerFields);
        table = this.table;
      } else {
        if (field !== width) this.wrongWidth(line, pos - lineStart, field);
        this.rows++;
      }
      this.line = line + 1;
      this.bytesConsumed += pos - recordStart;
      consumed = pos;
      if (!this.estimated && this.rows >= 1000) this.estimate();
    }
    return eof ? end : consumed;
  }

  /**
   * The common record of a numeric file, parsed with none of the general loop's cases: every field
   * a number the fast paths read, then a line feed (or CR LF). Stores the row and returns where the
   * next record starts; returns -1 for anything else (a missing value, text, quotes, a wrong field
   * count, a record cut by the chunk's end), and the general loop parses the record again from its
   * start, overwriting what was stored.
   */
  private numericRecord(buf: Buffer, start: number, end: number, row: number): number {
    const values = this.table!.values;
    const last = values.length - 1;
    const delim = this.delimiter;
    let pos = start;
    for (let j = 0; j < last; j++) {
      const read = scanNumber(buf, pos, end, delim);
      pos = scanned.end;
      if (!read || pos >= end || buf[pos] !== delim) return -1;
      values[j]![row] = scannedValue[0]!;
      pos++;
    }
    const read = scanNumber(buf, pos, end, delim);
    pos = scanned.end;
    if (!read || pos >= end) return -1;
    const c = buf[pos];
    if (c === LF) pos++;
    else if (c === CR && pos + 1 < end && buf[pos + 1] === LF) pos += 2;
    else return -1;
    values[last]![row] = scannedValue[0]!;
    return pos;
  }

  finish(): Frame {
    if (this.header === null) {
      throw new EmptyDataError(
        `${this.file} is empty`,
        'a CSV file needs a header row and at least one data row',
      );
    }
    if (this.rows === 0 && !this.allowEmpty) {
      throw new EmptyDataError(
        `${this.file} has a header but no data rows`,
        'add rows, or check the file path',
      );
    }
    return this.table!.finish(this.rows);
  }

  private setHeader(fields: string[]): void {
    const seen = new Map<string, number>();
    const names = fields.map((f, j) => {
      const name = f.trim() === '' ? `column_${j + 1}` : f;
      const before = seen.get(name);
      if (before !== undefined) {
        throw new CsvFormatError(
          this.file,
          this.line,
          1,
          `duplicate column name '${name}' (columns ${before + 1} and ${j + 1})`,
          'give every column a distinct header name',
        );
      }
      seen.set(name, j);
      return name;
    });
    for (const name of this.categorical) {
      if (!seen.has(name)) {
        throw new UsageError(`--categorical names column '${name}', which ${this.file} does not have`);
      }
    }
    this.header = names;
    this.table = new TableBuilder(names, this.categorical, 1024);
    this.allNumeric = this.categorical.size === 0;
  }

  /** Sizes the columns for the whole file from the bytes per row seen so far. */
  private estimate(): void {
    this.estimated = true;
    this.table!.reserve(this.estimateRows(this.rows));
  }

  private estimateRows(atLeast: number): number {
    if (this.rows === 0 || this.bytesConsumed === 0) return atLeast * 2;
    const perRow = this.bytesConsumed / this.rows;
    const remaining = Math.max(0, this.totalBytes - this.bytesConsumed);
    return Math.max(atLeast, Math.ceil(this.rows + (remaining / perRow) * 1.02) + 16);
  }

  private storeText(
    table: TableBuilder,
    j: number,
    row: number,
    text: string,
    line: number,
    column: number,
  ): void {
    if (table.kinds[j] === CATEGORICAL) {
      table.codes[j]![row] = isMissingToken(text) ? -1 : table.codeOf(j, text);
      return;
    }
    if (isMissingToken(text) || text.trim() === '') {
      table.values[j]![row] = Number.NaN;
      return;
    }
    if (isInfinityToken(text)) {
      throw new DataValueError(
        `${this.file}:${line}:${column}: infinite value '${text}' in numeric column '${table.names[j]}'`,
        'replace it with a finite number, or leave the field empty to mark it missing',
      );
    }
    const v = parseDecimalText(text);
    if (!Number.isNaN(v)) {
      table.values[j]![row] = v;
      return;
    }
    if (this.strictKinds) {
      throw new DataValueError(
        `${this.file}:${line}:${column}: column '${table.names[j]}' holds text '${text}', but it read as numeric in the sample of the file's first rows`,
        `pass --categorical ${table.names[j]} to read it as a category`,
      );
    }
    table.promote(j, row);
    this.allNumeric = false;
    table.codes[j]![row] = table.codeOf(j, text);
  }

  private wrongWidth(line: number, column: number, got: number): never {
    const width = this.table!.kinds.length;
    throw new CsvFormatError(
      this.file,
      line,
      column,
      `expected ${width} fields like the header, got ${got > width ? `${got} or more` : got}`,
      'check the delimiter and quoting on this line',
    );
  }

  /** The line on which `at` stands, counting line breaks inside quoted fields of the record. */
  private lineOf(buf: Buffer, recordStart: number, at: number): number {
    let line = this.line;
    for (let i = recordStart; i < at; i++) if (buf[i] === LF) line++;
    return line;
  }

  private columnOf(buf: Buffer, at: number): number {
    let i = at;
    while (i > 0 && buf[i - 1] !== LF) i--;
    return at - i + 1;
  }
}
