/**
 * Grows the typed-array columns of a frame row by row while a reader streams through a file.
 *
 * Each column starts numeric and is promoted to categorical the first time it meets text that is
 * neither a number nor a missing-value token; the numbers it held become their `String()` forms.
 * Storage grows to a capacity the reader estimates from the file size, so memory follows the
 * typed arrays, never a list of strings.
 */
import { DistmlError } from '../errors.ts';
import { type Column, categoricalColumn, Frame, MISSING_CODE, numericColumn } from './frame.ts';

/** Column kinds as small integers, read in the parser's hot loop. */
export const NUMERIC = 0;
/** See {@link NUMERIC}. */
export const CATEGORICAL = 1;

/** Row-by-row builder of a frame's columns. */
export class TableBuilder {
  /** Column kinds ({@link NUMERIC} or {@link CATEGORICAL}). */
  readonly kinds: Uint8Array;
  /** Numeric storage per column (empty once promoted). */
  readonly values: Float64Array[];
  /** Category codes per column (empty while numeric). */
  readonly codes: Int32Array[];
  private readonly dictionaries: Map<string, number>[];
  private readonly levels: string[][];
  private capacityRows: number;

  /**
   * @param names - column names, in order
   * @param categorical - names of columns to keep categorical even when their values look numeric
   * @param capacity - initial row capacity
   */
  constructor(
    readonly names: readonly string[],
    categorical: ReadonlySet<string>,
    capacity: number,
  ) {
    const d = names.length;
    this.kinds = new Uint8Array(d);
    this.values = [];
    this.codes = [];
    this.dictionaries = [];
    this.levels = [];
    this.capacityRows = Math.max(16, capacity);
    for (let j = 0; j < d; j++) {
      const isCategorical = categorical.has(names[j]!);
      this.kinds[j] = isCategorical ? CATEGORICAL : NUMERIC;
      this.values.push(isCategorical ? new Float64Array(0) : new Float64Array(this.capacityRows));
      this.codes.push(isCategorical ? new Int32Array(this.capacityRows) : new Int32Array(0));
      this.dictionaries.push(new Map());
      this.levels.push([]);
    }
  }

  /** Rows the storage can hold without growing. */
  get capacity(): number {
    return this.capacityRows;
  }

  /** Grows every column to hold at least `rows` rows. */
  reserve(rows: number): void {
    if (rows <= this.capacityRows) return;
    const cap = Math.max(rows, Math.ceil(this.capacityRows * 1.25));
    for (let j = 0; j < this.kinds.length; j++) {
      if (this.kinds[j] === NUMERIC) {
        const next = new Float64Array(cap);
        next.set(this.values[j]!);
        this.values[j] = next;
      } else {
        const next = new Int32Array(cap);
        next.set(this.codes[j]!);
        this.codes[j] = next;
      }
    }
    this.capacityRows = cap;
  }

  /** The code of `text` in column `j`'s dictionary, adding it as a new level if needed. */
  codeOf(j: number, text: string): number {
    const dict = this.dictionaries[j]!;
    let code = dict.get(text);
    if (code === undefined) {
      code = this.levels[j]!.length;
      dict.set(text, code);
      this.levels[j]!.push(text);
    }
    return code;
  }

  /** Turns numeric column `j` into a categorical one; rows [0, rows) keep their values as text. */
  promote(j: number, rows: number): void {
    if (this.kinds[j] === CATEGORICAL) return;
    const values = this.values[j]!;
    const codes = new Int32Array(this.capacityRows);
    for (let r = 0; r < rows; r++) {
      const v = values[r]!;
      codes[r] = Number.isNaN(v) ? MISSING_CODE : this.codeOf(j, String(v));
    }
    this.codes[j] = codes;
    this.values[j] = new Float64Array(0);
    this.kinds[j] = CATEGORICAL;
  }

  /**
   * The finished frame of `rows` rows. Storage that overshoots by more than 1/8 is copied to its
   * exact size so an over-estimated capacity is not kept alive.
   */
  finish(rows: number): Frame {
    if (rows > this.capacityRows) throw new DistmlError('DATA_FORMAT', 'table builder overrun');
    const trim = this.capacityRows - rows > this.capacityRows / 8;
    const columns: Column[] = this.names.map((name, j) => {
      if (this.kinds[j] === NUMERIC) {
        const v = this.values[j]!;
        return numericColumn(name, trim ? v.slice(0, rows) : v.subarray(0, rows));
      }
      const c = this.codes[j]!;
      return categoricalColumn(name, trim ? c.slice(0, rows) : c.subarray(0, rows), this.levels[j]!);
    });
    return new Frame(columns);
  }
}
