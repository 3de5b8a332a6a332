/**
 * Resident-memory readings from /proc (Linux): the current size and the peak ("high-water mark").
 */
import { readFileSync } from 'node:fs';

/** Current and peak resident set size of this process, in bytes (NaN where /proc is absent). */
export function residentMemory(): { rss: number; peak: number } {
  try {
    const status = readFileSync('/proc/self/status', 'utf8');
    const kb = (key: string) =>
      Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN) * 1024;
    return { rss: kb('VmRSS'), peak: kb('VmHWM') };
  } catch {
    return { rss: Number.NaN, peak: Number.NaN };
  }
}
