/**
 * The identity of a training run, for its checkpoints: `--resume` continues only a checkpoint
 * written by a run whose every result-changing setting was the same.
 */
import { createHash } from 'node:crypto';
import type { RawParams } from '../models/params.ts';
import { getModel } from '../models/registry.ts';

/** The settings of `train` that change the fitted model. */
export interface RunSettings {
  /** The data file or URL, as given. */
  readonly data: string;
  readonly target: string;
  readonly model: string;
  /** The parameters the user gave (`--param`); defaults are filled in before hashing. */
  readonly params: RawParams;
  readonly testFraction: number;
  readonly split: string;
  readonly seed: number;
  /** The partition count the fit uses (`--partitions`, or the engine's default), not the option. */
  readonly partitions: number;
  readonly sampleWeight?: string | undefined;
  readonly delimiter?: string | undefined;
  /** `--categorical` columns; their order does not matter. */
  readonly categorical?: readonly string[] | undefined;
  /** Workers read byte ranges or row groups, which cut the rows elsewhere than row blocks do. */
  readonly sharedData: boolean;
}

/**
 * What a refused resume tells the user to do: which settings must match.
 */
export const RUN_MISMATCH_HINT =
  'the data, --target, --model, --param values, --test-fraction, --split, --seed, partition count, ' +
  '--sample-weight, --delimiter, --categorical and --shared-data must be those of the run that wrote ' +
  'them; rerun with the same settings, or give another --checkpoint-dir';

/**
 * A 16-hex-digit id of the run: equal settings give equal ids, a difference in any setting that
 * changes the model gives another. Options that do not change the model (threads, progress,
 * `--checkpoint-every`, fault injection) are not part of it.
 */
export function runIdentity(s: RunSettings): string {
  const definition = getModel(s.model);
  const what = JSON.stringify([
    s.data,
    s.target,
    s.model,
    // With defaults filled in, so that setting a parameter to its default names the same run.
    definition.params.validate(definition.name, s.params),
    s.testFraction,
    s.split,
    s.seed,
    s.partitions,
    s.sampleWeight ?? null,
    s.delimiter ?? null,
    s.categorical === undefined ? [] : [...s.categorical].sort(),
    s.sharedData,
  ]);
  return createHash('sha256').update(what).digest('hex').slice(0, 16);
}
