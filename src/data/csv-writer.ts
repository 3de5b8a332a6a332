/**
 * CSV writer (RFC 4180, `\n` line ends) that reads back through the CSV reader to the same frame:
 * numbers in their shortest round-trip form, a missing value as an empty field, and a field quoted
 * only when it holds the delimiter, a quote or a line break.
 *
 * Some values cannot survive any CSV file: a category spelled like a missing-value token (`''`,
 * `NA`…) reads back as missing, and a categorical column whose every level looks like a number reads
 * back numeric unless the reader is told it is categorical.
 *
 * Text is produced in chunks of about a megabyte, so a frame of millions of rows never becomes one
 * string (V8 caps a string at about 512 MiB).
 */
import { UsageError } from '../errors.ts';
import { writeFileAtomic } from '../format/atomic-write.ts';
import { type Frame, MISSING_CODE } from './frame.ts';

/** Options of {@link writeCsv}, {@link frameToCsv} and {@link csvChunks}. */
export interface CsvWriteOptions {
  /** Field delimiter, one byte. @defaultValue `','` */
  delimiter?: string;
  /** Approximate characters per chunk. @defaultValue 1 Mi */
  chunkChars?: number;
}

/**
 * Writes a frame as CSV, atomically: the file appears whole or not at all.
 * @throws UsageError for a delimiter that is not one byte, or is a quote or a line break
 */
export async function writeCsv(path: string, frame: Frame, options: CsvWriteOptions = {}): Promise<void> {
  // Encoded chunks live outside the JS heap and take a byte per ASCII character, not two.
  const parts: Buffer[] = [];
  for (const chunk of csvChunks(frame, options)) parts.push(Buffer.from(chunk, 'utf8'));
  await writeFileAtomic(path, parts);
}

/** The whole CSV text of a frame; for large frames prefer {@link writeCsv} or {@link csvChunks}. */
export function frameToCsv(frame: Frame, options: CsvWriteOptions = {}): string {
  return Array.from(csvChunks(frame, options)).join('');
}

/**
 * The CSV text of a frame in chunks of whole rows, header first.
 * @throws UsageError for a delimiter that is not one byte, or is a quote or a line break
 */
export function* csvChunks(frame: Frame, options: CsvWriteOptions = {}): Generator<string, void, undefined> {
  const delimiter = options.delimiter ?? ',';
  if (Buffer.byteLength(delimiter) !== 1 || delimiter === '"' || delimiter === '\n' || delimiter === '\r') {
    throw new UsageError(
      `CSV delimiter must be a single one-byte character other than a quote or line break, got ${JSON.stringify(delimiter)}`,
    );
  }
  const target = Math.max(1, options.chunkChars ?? 1024 * 1024);
  const d = frame.columns.length;
  // With one column an empty field is a blank line, which readers skip; `""` keeps the row.
  const empty = d === 1 ? '""' : '';
  const field = (text: string): string => quoteField(text, delimiter, empty);

  const numbers: (Float64Array | null)[] = [];
  const codes: (Int32Array | null)[] = [];
  const texts: string[][] = [];
  for (const c of frame.columns) {
    numbers.push(c.kind === 'number' ? c.values : null);
    codes.push(c.kind === 'category' ? c.codes : null);
    texts.push(c.kind === 'category' ? c.levels.map(field) : []);
  }

  let out = `${frame.names.map(field).join(delimiter)}\n`;
  const rows = frame.rows;
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < d; j++) {
      if (j > 0) out += delimiter;
      const values = numbers[j];
      if (values != null) {
        const v = values[r]!;
        if (Number.isNaN(v)) out += empty;
        // String(-0) is "0"; write the sign so the value reads back bit for bit.
        else if (v === 0 && 1 / v < 0) out += '-0';
        else out += String(v);
      } else {
        const code = codes[j]![r]!;
        out += code === MISSING_CODE ? empty : texts[j]![code]!;
      }
    }
    out += '\n';
    if (out.length >= target) {
      yield out;
      out = '';
    }
  }
  if (out !== '') yield out;
}

/** A field as CSV text: quoted, with quotes doubled, only when it holds the delimiter, a quote or CR/LF. */
function quoteField(text: string, delimiter: string, empty: string): string {
  if (text === '') return empty;
  if (text.includes(delimiter) || text.includes('"') || text.includes('\n') || text.includes('\r')) {
    return `"${text.replaceAll('"', '""')}"`;
  }
  return text;
}
