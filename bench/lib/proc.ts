/**
 * Runs a child process and measures it as a user would see it: wall time from spawn to exit, and
 * the peak resident set of the whole process (all its threads) through GNU time's `%M`, when
 * /usr/bin/time exists.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const GNU_TIME = '/usr/bin/time';

/** What one child process did. */
export interface ProcessRun {
  status: number | null;
  stdout: string;
  stderr: string;
  wallSeconds: number;
  /** Peak resident set size in bytes, or undefined without /usr/bin/time. */
  peakRssBytes?: number;
}

/** Runs `command args` to completion, capturing its output; never throws on a non-zero exit. */
export function runMeasured(
  command: string,
  args: readonly string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutSeconds?: number } = {},
): ProcessRun {
  const useTime = existsSync(GNU_TIME);
  const dir = useTime ? mkdtempSync(join(tmpdir(), 'distml-bench-')) : undefined;
  const rssFile = dir === undefined ? undefined : join(dir, 'rss');
  const [cmd, argv] =
    rssFile === undefined ? [command, [...args]] : [GNU_TIME, ['-f', '%M', '-o', rssFile, command, ...args]];
  const started = performance.now();
  const child = spawnSync(cmd, argv, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    encoding: 'utf8',
    maxBuffer: 1 << 26,
    ...(options.timeoutSeconds === undefined ? {} : { timeout: options.timeoutSeconds * 1000 }),
  });
  const wallSeconds = (performance.now() - started) / 1000;
  const run: ProcessRun = {
    status: child.error === undefined ? child.status : null,
    stdout: child.stdout ?? '',
    stderr:
      child.error === undefined ? (child.stderr ?? '') : `${child.error.message}\n${child.stderr ?? ''}`,
    wallSeconds,
  };
  if (rssFile !== undefined) {
    try {
      // GNU time writes "Command exited with non-zero status N" before the figure on failure.
      const kb = Number(readFileSync(rssFile, 'utf8').trim().split('\n').at(-1));
      if (Number.isFinite(kb)) run.peakRssBytes = kb * 1024;
    } catch {
      // the child could not be started: no figure
    }
    rmSync(dir!, { recursive: true, force: true });
  }
  return run;
}

/** The last line of a child's stderr, to explain a failure in one line. */
export function lastLine(text: string): string {
  return text.trim().split('\n').at(-1) ?? '';
}
