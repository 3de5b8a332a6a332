/**
 * `distml generate KIND --rows N --features D --seed S --out FILE`: seeded synthetic data of any
 * size, written as CSV, Parquet or Arrow by the file's extension.
 */
import { Argument, Command, Option } from 'commander';
import { GENERATOR_KINDS, type GeneratorKind, generate } from '../../data/generate.ts';
import { writeFrame } from '../../data/write.ts';
import { checkWritable, parseNumber, parsePositive } from '../options.ts';
import { Progress } from '../progress.ts';

interface GenerateOptions {
  rows: number;
  features: number;
  seed: number;
  out: string;
  classes?: number;
  noise?: number;
  centers?: number;
  quiet?: boolean;
}

/** The `generate` subcommand. */
export function generateCommand(): Command {
  return new Command('generate')
    .description('Write a seeded synthetic dataset: classification, regression or blobs')
    .addArgument(new Argument('<kind>', 'what to generate').choices(GENERATOR_KINDS))
    .requiredOption('--rows <n>', 'number of rows', parsePositive)
    .requiredOption('--features <d>', 'number of feature columns', parsePositive)
    .option('--seed <n>', 'seed of the generator', parseNumber, 42)
    .requiredOption('--out <file>', 'output file: .csv, .parquet or .arrow')
    .addOption(new Option('--classes <k>', 'classes (classification)').argParser(parsePositive))
    .addOption(
      new Option('--noise <x>', 'standard deviation of the target noise (regression)').argParser(parseNumber),
    )
    .addOption(new Option('--centers <k>', 'number of clusters (blobs)').argParser(parsePositive))
    .option('-q, --quiet', 'no progress on stderr')
    .option('--verbose', 'print stack traces of errors')
    .addHelpText(
      'after',
      '\nExamples:\n  distml generate classification --rows 1000000 --features 50 --seed 1 --out clf.csv\n' +
        '  distml generate regression --rows 100000 --features 100 --noise 0.5 --out reg.parquet\n',
    )
    .action(async (kind: string, opts: GenerateOptions) => runGenerate(kind, opts));
}

async function runGenerate(kindText: string, opts: GenerateOptions): Promise<void> {
  await checkWritable('--out', opts.out);
  const kind = kindText as GeneratorKind;
  const progress = new Progress({ quiet: opts.quiet ?? false });
  progress.start(`generating ${opts.rows} × ${opts.features} ${kindText}`);
  const base = { rows: opts.rows, features: opts.features, seed: opts.seed };
  const frame =
    kind === 'classification'
      ? generate(kind, { ...base, ...(opts.classes === undefined ? {} : { classes: opts.classes }) })
      : kind === 'regression'
        ? generate(kind, { ...base, ...(opts.noise === undefined ? {} : { noise: opts.noise }) })
        : generate(kind, { ...base, ...(opts.centers === undefined ? {} : { centers: opts.centers }) });
  progress.done('done');
  progress.start(`writing ${opts.out}`);
  await writeFrame(opts.out, frame);
  progress.done(`${frame.rows} rows × ${frame.columns.length} columns`);
  process.stdout.write(`${opts.out}\n`);
}
