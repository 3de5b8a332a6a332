/**
 * Runs the built `distml` command (bin/distml.js → dist/) as a real child process.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ModelFileContents } from '../../src/format/tensor-container.ts';
import { readModelFile } from '../../src/io/model-file.ts';

/** The repository root. */
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** A bundled dataset's path. */
export const dataset = (name: string): string => `${ROOT}data/${name}`;

/** What a CLI run produced. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `distml ARGS…` with stdin closed and no TTY; resolves when it exits. */
export function runCli(args: readonly string[], options: { cwd?: string } = {}): Promise<CliResult> {
  return startCli(args, options).done;
}

/** A `distml` run in progress, whose stderr can be read while it runs. */
export interface RunningCli {
  /** What the command has printed to stderr so far. */
  stderr(): string;
  readonly done: Promise<CliResult>;
}

/** Starts `distml ARGS…` with stdin closed and no TTY, for tests that act on what it prints meanwhile. */
export function startCli(args: readonly string[], options: { cwd?: string } = {}): RunningCli {
  const child = spawn(process.execPath, [`${ROOT}bin/distml.js`, ...args], {
    cwd: options.cwd ?? ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NO_COLOR: '1' },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
  });
  const done = new Promise<CliResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
  return { stderr: () => stderr, done };
}

/** What {@link trainSaved} read back: the run, its `--report` (as `R`) and its saved model. */
export interface SavedTraining<R> extends CliResult {
  readonly report: R;
  readonly file: ModelFileContents;
  /** The model file's path. */
  readonly model: string;
}

/**
 * `distml train ARGS --save DIR/NAME.distml --report DIR/NAME.json`; fails the test on a non-zero
 * exit (with its stderr), and reads back the report and the model file.
 */
export async function trainSaved<R>(
  dir: string,
  name: string,
  args: readonly string[],
): Promise<SavedTraining<R>> {
  const model = join(dir, `${name}.distml`);
  const report = join(dir, `${name}.json`);
  const r = await runCli(['train', ...args, '--save', model, '--report', report]);
  assert.equal(r.code, 0, r.stderr);
  return {
    ...r,
    model,
    report: JSON.parse(await readFile(report, 'utf8')) as R,
    file: await readModelFile(model),
  };
}

/** One entry of test/fixtures/sklearn-small.json (scikit-learn 1.2.1 on the bundled data). */
export interface Reference {
  dataset: string;
  model: string;
  accuracy?: number;
  f1Macro?: number;
  logLoss?: number;
}

/** scikit-learn's score for a dataset and model, copied from shared/reference. */
export function reference(datasetName: string, model: string): Reference {
  const all = JSON.parse(readFileSync(`${ROOT}test/fixtures/sklearn-small.json`, 'utf8')) as Reference[];
  const found = all.find((r) => r.dataset === datasetName && r.model === model);
  if (found === undefined) throw new Error(`no reference for ${model} on ${datasetName}`);
  return found;
}
