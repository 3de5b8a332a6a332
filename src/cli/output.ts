/**
 * Result tables on stdout and JSON reports on disk.
 */
import { writeFileAtomic } from '../format/atomic-write.ts';

/** Rows of (label, value) as an aligned two-column table. */
export function formatTable(rows: ReadonlyArray<readonly [string, string | number]>): string {
  const width = Math.max(0, ...rows.map(([k]) => k.length));
  return `${rows.map(([k, v]) => `${k.padEnd(width)}  ${typeof v === 'number' ? formatNumber(v) : v}`).join('\n')}\n`;
}

/** A score or measurement with four significant decimals, integers unchanged. */
export function formatNumber(v: number): string {
  if (Number.isInteger(v)) return String(v);
  if (Math.abs(v) >= 1e5 || (Math.abs(v) < 1e-3 && v !== 0)) return v.toExponential(3);
  return v.toFixed(4);
}

/** Writes `value` as pretty JSON to `path`, atomically. */
export async function writeJsonReport(path: string, value: unknown): Promise<void> {
  await writeFileAtomic(path, `${JSON.stringify(value, null, 2)}\n`);
}
