/**
 * `distml evaluate MODEL DATA [--target COL] [--report FILE]`: scores of a saved model on labelled rows.
 */
import { Command } from 'commander';
import { TrainedModel } from '../../pipeline/trained-model.ts';
import { VERSION } from '../../version.ts';
import { checkWritable } from '../options.ts';
import { formatTable, writeJsonReport } from '../output.ts';
import { Progress } from '../progress.ts';
import { loadFrame, scoreRows } from './shared.ts';

interface EvaluateOptions {
  target?: string;
  report?: string;
  delimiter?: string;
  categorical?: string;
  quiet?: boolean;
}

/** The `evaluate` subcommand. */
export function evaluateCommand(): Command {
  return new Command('evaluate')
    .description('Score a saved model on a labelled data file')
    .argument('<model>', 'model file written by distml train --save')
    .argument('<data>', 'data file with the features and the target column')
    .option('--target <column>', 'column holding the truth (default: the column the model was trained on)')
    .option('--report <file>', 'write the scores as JSON to this file')
    .option('--delimiter <char>', 'CSV field delimiter of the data')
    .option('--categorical <columns>', 'comma-separated columns to read as categories')
    .option('-q, --quiet', 'no progress on stderr')
    .option('--verbose', 'print stack traces of errors')
    .addHelpText('after', '\nExample:\n  distml evaluate model.distml holdout.csv --report scores.json\n')
    .action(async (modelPath: string, dataPath: string, opts: EvaluateOptions) => {
      await checkWritable('--report', opts.report);
      const progress = new Progress({ quiet: opts.quiet ?? false });
      const model = await TrainedModel.load(modelPath);
      const frame = await loadFrame(dataPath, opts, progress);
      const target = opts.target ?? model.meta.target;
      const started = performance.now();
      const scores = scoreRows(model, frame, target, dataPath, progress);
      const predictSeconds = (performance.now() - started) / 1000;
      if (opts.report !== undefined) {
        await writeJsonReport(opts.report, {
          model: model.name,
          modelFile: modelPath,
          data: { path: dataPath, rows: frame.rows, columns: frame.columns.length, target },
          metrics: scores,
          timings: { predictSeconds },
          distml: VERSION,
        });
      }
      process.stdout.write(
        formatTable([
          ['model', `${model.name} (${modelPath})`],
          ['data', `${dataPath} (${frame.rows} rows)`],
          ...Object.entries(scores),
        ]),
      );
    });
}
