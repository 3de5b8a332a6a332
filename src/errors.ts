/**
 * Every error distml raises on purpose is a {@link DistmlError}: it carries a stable `code` that
 * programs can switch on, a message that names the object and the bad value, and an optional hint
 * that says what to do about it.
 */

/** Stable machine-readable error codes. */
export type ErrorCode =
  | 'CSV_FORMAT'
  | 'DATA_FORMAT'
  | 'DATA_EMPTY'
  | 'DATA_VALUE'
  | 'COLUMN_MISSING'
  | 'TARGET_INVALID'
  | 'USAGE'
  | 'PARAM_INVALID'
  | 'MODEL_UNKNOWN'
  | 'MODEL_FILE'
  | 'FILE_IO'
  | 'CONVERGENCE'
  | 'KERNEL';

/** Base class of every error distml raises on purpose. */
export class DistmlError extends Error {
  /**
   * @param code - stable identifier for programs
   * @param message - what is wrong, naming the object and the bad value
   * @param hint - what the user can do about it
   */
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly hint?: string,
    options?: ErrorOptions,
  ) {
    super(hint === undefined ? message : `${message} (${hint})`, options);
    this.name = new.target.name;
  }
}

/** A malformed CSV record: the message starts with `file:line:column`. */
export class CsvFormatError extends DistmlError {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly column: number,
    detail: string,
    hint?: string,
  ) {
    super('CSV_FORMAT', `${file}:${line}:${column}: ${detail}`, hint);
  }
}

/** A data file that cannot be read as a table (bad JSON line, bad Parquet footer, …). */
export class DataFormatError extends DistmlError {
  constructor(message: string, hint?: string, options?: ErrorOptions) {
    super('DATA_FORMAT', message, hint, options);
  }
}

/** A file with no data rows. */
export class EmptyDataError extends DistmlError {
  constructor(message: string, hint?: string) {
    super('DATA_EMPTY', message, hint);
  }
}

/** A value that is present but unusable (NaN or Infinity where a finite number is needed). */
export class DataValueError extends DistmlError {
  constructor(message: string, hint?: string) {
    super('DATA_VALUE', message, hint);
  }
}

/** A column named by the user that the data does not have. */
export class ColumnNotFoundError extends DistmlError {
  constructor(message: string, hint?: string) {
    super('COLUMN_MISSING', message, hint);
  }
}

/** A target column that cannot be learned (one class, missing values, wrong type). */
export class TargetError extends DistmlError {
  constructor(message: string, hint?: string) {
    super('TARGET_INVALID', message, hint);
  }
}

/** A command-line usage mistake: the CLI exits with status 2. */
export class UsageError extends DistmlError {
  constructor(message: string, hint?: string) {
    super('USAGE', message, hint);
  }
}

/** A model parameter that fails its declaration. */
export class ParamError extends DistmlError {
  constructor(message: string, hint?: string) {
    super('PARAM_INVALID', message, hint);
  }
}

/** A model name that no estimator is registered under. */
export class UnknownModelError extends DistmlError {
  constructor(message: string, hint?: string) {
    super('MODEL_UNKNOWN', message, hint);
  }
}

/** Why a model file was refused. */
export type ModelFileFault =
  | 'truncated'
  | 'bad-magic'
  | 'unsupported-version'
  | 'header-too-large'
  | 'file-too-large'
  | 'bad-header'
  | 'forbidden-key'
  | 'bad-tensor'
  | 'overlapping-tensors'
  | 'checksum-mismatch';

/** A model file that is not safe or not valid to load; `fault` names the exact problem. */
export class ModelFileError extends DistmlError {
  constructor(
    readonly file: string,
    readonly fault: ModelFileFault,
    detail: string,
    hint?: string,
  ) {
    super('MODEL_FILE', `${file}: ${fault}: ${detail}`, hint);
  }
}

/** An optimizer that stopped without meeting its tolerance, or that produced non-finite values. */
export class ConvergenceError extends DistmlError {
  constructor(message: string, hint?: string) {
    super('CONVERGENCE', message, hint);
  }
}

/** The error for a file that cannot be opened or read: names the path and says why in plain words. */
export function cannotRead(path: string, err: unknown): DistmlError {
  const e = err as NodeJS.ErrnoException;
  const why = e.code === 'ENOENT' ? 'no such file' : e.code === 'EISDIR' ? 'it is a directory' : e.message;
  return new DistmlError('FILE_IO', `cannot read ${path}: ${why}`, undefined, { cause: err });
}

/** A task that failed on every attempt; the message names the task, partition, worker and cause. */
export class TaskFailedError extends DistmlError {
  constructor(message: string, hint?: string) {
    super('KERNEL', message, hint);
  }
}

/** A task result holding NaN or Infinity: caught before it is applied to the model. */
export class NonFiniteResultError extends DistmlError {
  constructor(message: string, hint?: string) {
    super('KERNEL', message, hint);
  }
}

/** Levenshtein distance, for "did you mean" suggestions. */
export function editDistance(a: string, b: string): number {
  const prev = new Array<number>(b.length + 1);
  for (let j = 0; j <= b.length; j++) prev[j] = j;
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j]!;
      prev[j] = Math.min(up + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length]!;
}

/** The closest candidate to `name`, as a "did you mean" hint, or undefined when none is close. */
export function didYouMean(name: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const c of candidates) {
    const d = editDistance(name.toLowerCase(), c.toLowerCase());
    if (d < bestDistance) {
      bestDistance = d;
      best = c;
    }
  }
  if (best === undefined || bestDistance > Math.max(2, Math.floor(name.length / 3))) return undefined;
  return `did you mean '${best}'?`;
}
