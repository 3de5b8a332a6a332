/**
 * One timed read of a CSV file by distml, in a fresh process so the peak memory is its own.
 * Prints one JSON line: seconds, rows, columns, bytes of the resulting typed arrays, memory.
 */
import { readCsv } from '../src/data/csv-reader.ts';
import { residentMemory } from './memory.ts';

const path = process.argv[2];
if (path === undefined) throw new Error('usage: csv-read-child.ts FILE');
const before = residentMemory();
const started = performance.now();
const frame = await readCsv(path);
const seconds = (performance.now() - started) / 1000;
const after = residentMemory();
let arrayBytes = 0;
for (const c of frame.columns) arrayBytes += c.kind === 'number' ? c.values.byteLength : c.codes.byteLength;
process.stdout.write(
  `${JSON.stringify({ seconds, rows: frame.rows, columns: frame.columns.length, arrayBytes, baseRss: before.rss, peakRss: after.peak })}\n`,
);
