/**
 * Arrow IPC files (`.arrow`, `.feather` v2) and streams in and out of a {@link Frame}.
 *
 * Integers, floats, booleans and all-null columns become numeric columns (a null is NaN); Utf8
 * columns and dictionary-encoded strings become categorical ones. A dictionary keeps its order as
 * the column's levels, so a frame written by {@link writeArrow} reads back with the same codes.
 * Other types (dates, decimals, nested…) are refused by name.
 */
import { readFile } from 'node:fs/promises';
import {
  type Data,
  type DataType,
  Dictionary,
  Field,
  type Float,
  Float64,
  Int32,
  makeData,
  makeVector,
  Precision,
  RecordBatch,
  Schema,
  Struct,
  Table,
  Type,
  tableFromIPC,
  tableToIPC,
  Utf8,
  type Vector,
  vectorFromArray,
} from 'apache-arrow';
import { cannotRead, DataFormatError, DataValueError, EmptyDataError } from '../errors.ts';
import { writeFileAtomic } from '../format/atomic-write.ts';
import { type Column, categoricalColumn, Frame, MISSING_CODE, numericColumn } from './frame.ts';

/** Options of {@link writeArrow}. */
export interface ArrowWriteOptions {
  /** IPC file format (random access, `.arrow`/`.feather`) or stream format. @defaultValue `'file'` */
  format?: 'file' | 'stream';
}

/** Integers beyond ±2^53 have no exact double. */
const MAX_EXACT = 2 ** 53;

/**
 * Reads an Arrow IPC file or stream into a {@link Frame}.
 * @throws DataFormatError naming the file and the fault for bytes that are not Arrow IPC, or naming
 *   the column and its type for a column distml cannot hold
 * @throws DataValueError for a 64-bit integer beyond ±2^53, which a double cannot hold exactly
 * @throws EmptyDataError for an empty file or a table without rows
 */
export async function readArrow(path: string): Promise<Frame> {
  const bytes = await readFile(path).catch((err: unknown) => {
    throw cannotRead(path, err);
  });
  if (bytes.length === 0)
    throw new EmptyDataError(`${path} is empty`, 'an Arrow file cannot have zero bytes');
  let table: Table;
  try {
    table = tableFromIPC(bytes);
  } catch (err) {
    throw new DataFormatError(
      `${path}: not a readable Arrow IPC file or stream: ${(err as Error).message}`,
      'check that the file is Arrow IPC (Feather v2) and was copied completely',
      { cause: err },
    );
  }
  if (table.numRows === 0 || table.numCols === 0) {
    throw new EmptyDataError(`${path} has no data rows`, 'write at least one row and one column');
  }
  const columns = table.schema.fields.map((field, j) => readColumn(path, field, table.getChildAt(j)!));
  try {
    return new Frame(columns);
  } catch (err) {
    throw new DataFormatError(`${path}: ${(err as Error).message}`, undefined, { cause: err });
  }
}

/**
 * Writes a frame as an Arrow IPC file (or stream): numeric columns as Float64 with NaN written as
 * null, categorical ones as Dictionary<Int32, Utf8> over the column's levels. The bytes are built in
 * memory, then written atomically.
 */
export async function writeArrow(path: string, frame: Frame, options: ArrowWriteOptions = {}): Promise<void> {
  const fields: Field[] = [];
  const children: Data[] = [];
  for (const c of frame.columns) {
    const data = c.kind === 'number' ? float64Data(c.values) : dictionaryData(c.codes, c.levels);
    fields.push(new Field(c.name, data.type, true));
    children.push(data);
  }
  // Built through a schema, not a name → vector record, so names like "0" keep their place.
  const schema = new Schema(fields);
  const batch = new RecordBatch(
    schema,
    makeData({ type: new Struct(fields), length: frame.rows, nullCount: 0, children }),
  );
  const bytes = tableToIPC(new Table(schema, batch), options.format ?? 'file');
  await writeFileAtomic(path, bytes);
}

function readColumn(path: string, field: Field, vector: Vector): Column {
  const type = field.type as DataType;
  switch (type.typeId) {
    case Type.Int:
    case Type.Float:
    case Type.Bool:
    case Type.Null:
      return numericColumn(field.name, numbersOf(path, field.name, vector));
    case Type.Utf8:
    case Type.LargeUtf8:
    case Type.Utf8View:
      return stringsOf(field.name, vector);
    case Type.Dictionary: {
      const valueType = (type as Dictionary).dictionary.typeId;
      if (valueType === Type.Utf8 || valueType === Type.LargeUtf8 || valueType === Type.Utf8View) {
        return dictionaryOf(path, field.name, vector);
      }
      break;
    }
  }
  throw new DataFormatError(
    `${path}: column '${field.name}' has Arrow type ${String(type)}, which distml cannot read`,
    'cast it to Float64 (numbers) or Utf8 (text) before writing; store dates as epoch numbers or strings',
  );
}

function numbersOf(path: string, name: string, vector: Vector): Float64Array {
  const out = new Float64Array(vector.length);
  let at = 0;
  for (const data of vector.data) {
    const n = data.length;
    const typeId = data.type.typeId as Type;
    if (typeId === Type.Null) {
      out.fill(Number.NaN, at, at + n);
      at += n;
      continue;
    }
    const values = data.values as unknown;
    const off = data.offset;
    if (typeId === Type.Bool) {
      // Booleans are bits counted from the data's offset; their buffer is never sliced.
      const bits = values as Uint8Array;
      for (let i = 0; i < n; i++) {
        const p = off + i;
        out[at + i] = (bits[p >> 3]! >> (p & 7)) & 1;
      }
    } else if (values instanceof BigInt64Array || values instanceof BigUint64Array) {
      for (let i = 0; i < n; i++) {
        if (!data.getValid(i)) continue; // null slots may hold garbage; the null pass below marks them
        const v = values[i]!;
        if (v > MAX_EXACT || v < -MAX_EXACT) {
          throw new DataValueError(
            `${path}: column '${name}' row ${at + i + 1}: integer ${v} is beyond ±2^53 and has no exact double`,
            'store such ids as strings, or scale the values down',
          );
        }
        out[at + i] = Number(v);
      }
    } else if (typeId === Type.Float && (data.type as Float).precision === Precision.HALF) {
      // Half floats are stored as raw bits; Arrow's own accessor decodes them (rare, not a hot path).
      const vec = makeVector(data);
      for (let i = 0; i < n; i++) out[at + i] = (vec.get(i) as number | null) ?? Number.NaN;
    } else {
      // Fixed-width buffers are sliced to the data's window, but an IPC buffer may be padded past it.
      out.set((values as Float64Array).subarray(0, n), at);
    }
    if (data.nullCount > 0) {
      const validity = data.nullBitmap;
      for (let i = 0; i < n; i++) {
        const p = off + i;
        if (((validity[p >> 3]! >> (p & 7)) & 1) === 0) out[at + i] = Number.NaN;
      }
    }
    at += n;
  }
  return out;
}

function stringsOf(name: string, vector: Vector): Column {
  const codes = new Int32Array(vector.length);
  const levels: string[] = [];
  const index = new Map<string, number>();
  let at = 0;
  for (const data of vector.data) {
    const vec = makeVector(data);
    const n = data.length;
    for (let i = 0; i < n; i++) {
      const s = vec.get(i) as string | null;
      codes[at + i] = s === null ? MISSING_CODE : codeOf(s, levels, index);
    }
    at += n;
  }
  return categoricalColumn(name, codes, levels);
}

/** Dictionary-encoded strings: each distinct dictionary is decoded once and remapped to the levels. */
function dictionaryOf(path: string, name: string, vector: Vector): Column {
  const codes = new Int32Array(vector.length);
  const levels: string[] = [];
  const index = new Map<string, number>();
  const remaps = new Map<Vector, Int32Array>();
  let at = 0;
  for (const data of vector.data) {
    const dictionary = data.dictionary;
    if (dictionary === undefined) throw new DataFormatError(`${path}: column '${name}' has no dictionary`);
    let remap = remaps.get(dictionary);
    if (remap === undefined) {
      remap = new Int32Array(dictionary.length);
      for (let k = 0; k < dictionary.length; k++) {
        const s = dictionary.get(k) as string | null;
        remap[k] = s === null ? MISSING_CODE : codeOf(s, levels, index);
      }
      remaps.set(dictionary, remap);
    }
    const indices = data.values as unknown as ArrayLike<number | bigint>;
    const n = data.length;
    const size = remap.length;
    for (let i = 0; i < n; i++) {
      if (!data.getValid(i)) {
        codes[at + i] = MISSING_CODE;
        continue;
      }
      const k = Number(indices[i]!);
      if (!(k >= 0 && k < size)) {
        throw new DataFormatError(
          `${path}: column '${name}' row ${at + i + 1}: dictionary index ${k} is outside its ${size} entries`,
        );
      }
      codes[at + i] = remap[k]!;
    }
    at += n;
  }
  return categoricalColumn(name, codes, levels);
}

function codeOf(s: string, levels: string[], index: Map<string, number>): number {
  let code = index.get(s);
  if (code === undefined) {
    code = levels.length;
    index.set(s, code);
    levels.push(s);
  }
  return code;
}

/**
 * Arrow validity bits marking NaN (numbers) or {@link MISSING_CODE} (codes) as null, or undefined
 * when every row is valid.
 */
function validityOf(values: Float64Array | Int32Array): { bitmap: Uint8Array; nulls: number } | undefined {
  const n = values.length;
  // Start all-valid and clear the null bits; the tail past n stays set, which readers ignore.
  const bitmap = new Uint8Array(Math.ceil(n / 8)).fill(0xff);
  let nulls = 0;
  if (values instanceof Float64Array) {
    for (let i = 0; i < n; i++) {
      if (!Number.isNaN(values[i]!)) continue;
      bitmap[i >> 3]! &= ~(1 << (i & 7));
      nulls++;
    }
  } else {
    for (let i = 0; i < n; i++) {
      if (values[i] !== MISSING_CODE) continue;
      bitmap[i >> 3]! &= ~(1 << (i & 7));
      nulls++;
    }
  }
  return nulls === 0 ? undefined : { bitmap, nulls };
}

function float64Data(values: Float64Array): Data<Float64> {
  const validity = validityOf(values);
  return makeData({
    type: new Float64(),
    length: values.length,
    nullCount: validity?.nulls ?? 0,
    nullBitmap: validity?.bitmap,
    data: values,
  });
}

function dictionaryData(codes: Int32Array, levels: readonly string[]): Data<Dictionary<Utf8, Int32>> {
  const validity = validityOf(codes);
  let indices = codes;
  if (validity !== undefined) {
    // Readers that gather before checking validity would index the dictionary at -1.
    indices = codes.slice();
    for (let i = 0; i < indices.length; i++) if (indices[i] === MISSING_CODE) indices[i] = 0;
  }
  return makeData({
    type: new Dictionary(new Utf8(), new Int32()),
    length: codes.length,
    nullCount: validity?.nulls ?? 0,
    nullBitmap: validity?.bitmap,
    data: indices,
    dictionary: vectorFromArray(levels as string[], new Utf8()),
  });
}
