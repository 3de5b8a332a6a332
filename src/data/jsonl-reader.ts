/**
 * JSON-lines reader: one flat JSON object per line. The file is streamed in chunks and every record
 * goes straight into growing typed arrays, so memory follows the columns of the result, not the
 * text or a list of row objects.
 *
 * The columns are the union of the records' keys in first-seen order; a key a record lacks is a
 * missing value there. A column holds numbers (booleans count as 0/1) until it first meets a string
 * that is not a missing-value token; from then on it is categorical and its numbers become their
 * `String()` forms, as in the CSV reader.
 */
import { createReadStream } from 'node:fs';
import {
  ColumnNotFoundError,
  cannotRead,
  DataFormatError,
  DataValueError,
  DistmlError,
  didYouMean,
  EmptyDataError,
} from '../errors.ts';
import { type Column, categoricalColumn, Frame, MISSING_CODE, numericColumn } from './frame.ts';
import { isMissingToken } from './missing.ts';

/** Options of {@link readJsonLines}. */
export interface JsonLinesReadOptions {
  /**
   * Read only these keys, in this order; other keys are skipped without looking at their values.
   * @defaultValue every key, in first-seen order
   */
  columns?: readonly string[];
}

/**
 * Reads a JSON-lines file (`.jsonl`, `.ndjson`) into a {@link Frame}. Blank lines are skipped.
 * @throws DataFormatError `file:line: …` for a line that is not JSON, not an object, or holds a nested value
 * @throws DataValueError for a number too large for a double (JSON.parse makes it Infinity)
 * @throws EmptyDataError when the file holds no records
 * @throws ColumnNotFoundError when `options.columns` names a key no record has
 */
export async function readJsonLines(path: string, options: JsonLinesReadOptions = {}): Promise<Frame> {
  const builder = new JsonLinesBuilder(path, options.columns);
  let carry = '';
  let line = 0;
  try {
    // The stream decodes UTF-8 itself, so a character split across chunks arrives whole.
    const stream = createReadStream(path, { encoding: 'utf8', highWaterMark: 1024 * 1024 });
    for await (const chunk of stream as AsyncIterable<string>) {
      const text = carry === '' ? chunk : carry + chunk;
      let start = 0;
      for (let nl = text.indexOf('\n'); nl !== -1; nl = text.indexOf('\n', start)) {
        builder.addLine(text.slice(start, nl), ++line);
        start = nl + 1;
      }
      carry = text.slice(start);
    }
  } catch (err) {
    if (err instanceof DistmlError) throw err;
    throw cannotRead(path, err);
  }
  if (carry !== '') builder.addLine(carry, ++line);
  return builder.finish();
}

/** One column while it grows: numeric storage until promoted, then category codes. */
interface GrowingColumn {
  readonly name: string;
  numeric: boolean;
  values: Float64Array;
  codes: Int32Array;
  readonly levels: string[];
  readonly index: Map<string, number>;
  /** Whether any record had this key (only consulted for columns the caller asked for). */
  seen: boolean;
}

/** Turns parsed records into typed-array columns. */
class JsonLinesBuilder {
  private readonly columns: GrowingColumn[] = [];
  private readonly byName = new Map<string, GrowingColumn>();
  /** Keys skipped because the caller selected columns; kept for "did you mean". */
  private readonly skipped = new Set<string>();
  private readonly selected: boolean;
  private capacity = 1024;
  private rows = 0;

  constructor(
    private readonly file: string,
    columns: readonly string[] | undefined,
  ) {
    this.selected = columns !== undefined;
    for (const name of columns ?? []) if (!this.byName.has(name)) this.addColumn(name);
  }

  addLine(raw: string, line: number): void {
    let text = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line === 1 && text.charCodeAt(0) === 0xfeff) text = text.slice(1); // UTF-8 byte-order mark
    if (text.trim() === '') return;
    let record: unknown;
    try {
      record = JSON.parse(text);
    } catch (err) {
      throw new DataFormatError(
        `${this.file}:${line}: invalid JSON (${(err as Error).message})`,
        'each line must hold one complete JSON object',
      );
    }
    if (record === null || typeof record !== 'object' || Array.isArray(record)) {
      throw new DataFormatError(
        `${this.file}:${line}: expected a JSON object, got ${Array.isArray(record) ? 'an array' : JSON.stringify(record)}`,
        'write one object per line, like {"x": 1.5, "colour": "red"}',
      );
    }
    if (this.rows === this.capacity) this.grow();
    const row = this.rows;
    const fields = record as Record<string, unknown>;
    for (const key of Object.keys(fields)) {
      let column = this.byName.get(key);
      if (column === undefined) {
        if (this.selected) {
          this.skipped.add(key);
          continue;
        }
        column = this.addColumn(key);
      }
      column.seen = true;
      this.store(column, fields[key], row, line);
    }
    this.rows++;
  }

  finish(): Frame {
    if (this.rows === 0) {
      throw new EmptyDataError(
        `${this.file} has no records`,
        'a JSON-lines file holds one JSON object per line',
      );
    }
    for (const c of this.columns) {
      if (!c.seen) {
        const found = [...this.columns.filter((k) => k.seen).map((k) => k.name), ...this.skipped];
        throw new ColumnNotFoundError(
          `no key '${c.name}' in any record of ${this.file} (keys: ${found.join(', ')})`,
          didYouMean(c.name, found),
        );
      }
    }
    if (this.columns.length === 0) {
      throw new EmptyDataError(`${this.file} has no columns: every record is an empty object`);
    }
    const rows = this.rows;
    // Capacity that overshoots by more than 1/8 is copied away so it is not kept alive.
    const trim = this.capacity - rows > this.capacity / 8;
    const columns: Column[] = this.columns.map((c) => {
      if (c.numeric)
        return numericColumn(c.name, trim ? c.values.slice(0, rows) : c.values.subarray(0, rows));
      return categoricalColumn(c.name, trim ? c.codes.slice(0, rows) : c.codes.subarray(0, rows), c.levels);
    });
    return new Frame(columns);
  }

  private store(column: GrowingColumn, value: unknown, row: number, line: number): void {
    switch (typeof value) {
      case 'number':
      case 'boolean': {
        const v = typeof value === 'number' ? value : value ? 1 : 0;
        if (v === Number.POSITIVE_INFINITY || v === Number.NEGATIVE_INFINITY) {
          // JSON has no infinity, but JSON.parse turns a number like 1e400 into one.
          throw new DataValueError(
            `${this.file}:${line}: key '${column.name}' holds a number too large for a double`,
            'rescale the values, or store them as strings',
          );
        }
        if (column.numeric) column.values[row] = v;
        else column.codes[row] = codeOf(column, String(v));
        return;
      }
      case 'string':
        if (isMissingToken(value)) return;
        if (column.numeric) this.promote(column, row);
        column.codes[row] = codeOf(column, value);
        return;
      case 'object':
        if (value === null) return;
        throw new DataFormatError(
          `${this.file}:${line}: key '${column.name}' holds a nested ${Array.isArray(value) ? 'array' : 'object'}`,
          'distml reads flat records only: flatten the value into its own keys, or encode it as a string',
        );
      default:
        // JSON.parse yields no other types; this guards against a future change in the parser.
        throw new DataFormatError(`${this.file}:${line}: key '${column.name}' holds a ${typeof value}`);
    }
  }

  /** A new column; the rows before it appeared are missing (storage starts filled with NaN). */
  private addColumn(name: string): GrowingColumn {
    const column: GrowingColumn = {
      name,
      numeric: true,
      values: new Float64Array(this.capacity).fill(Number.NaN),
      codes: new Int32Array(0),
      levels: [],
      index: new Map(),
      seen: false,
    };
    this.columns.push(column);
    this.byName.set(name, column);
    return column;
  }

  /** Turns a numeric column categorical; rows [0, row) keep their numbers as text. */
  private promote(column: GrowingColumn, row: number): void {
    const codes = new Int32Array(this.capacity).fill(MISSING_CODE);
    const values = column.values;
    for (let r = 0; r < row; r++) {
      const v = values[r]!;
      if (!Number.isNaN(v)) codes[r] = codeOf(column, String(v));
    }
    column.codes = codes;
    column.values = new Float64Array(0);
    column.numeric = false;
  }

  /** Doubles every column's storage; the new rows start missing. */
  private grow(): void {
    const old = this.capacity;
    const cap = old * 2;
    for (const c of this.columns) {
      if (c.numeric) {
        const next = new Float64Array(cap);
        next.set(c.values);
        next.fill(Number.NaN, old);
        c.values = next;
      } else {
        const next = new Int32Array(cap);
        next.set(c.codes);
        next.fill(MISSING_CODE, old);
        c.codes = next;
      }
    }
    this.capacity = cap;
  }
}

/** The code of `text` in the column's levels, adding it as a new level if needed. */
function codeOf(column: GrowingColumn, text: string): number {
  let code = column.index.get(text);
  if (code === undefined) {
    code = column.levels.length;
    column.index.set(text, code);
    column.levels.push(text);
  }
  return code;
}
