/**
 * `distml predict MODEL DATA [--out FILE]`: predictions for every row, as CSV on stdout or as a
 * file whose extension picks the format.
 */
import { Command } from 'commander';
import { csvChunks } from '../../data/csv-writer.ts';
import { writeFrame } from '../../data/write.ts';
import { predictionsToFrame, TrainedModel } from '../../pipeline/trained-model.ts';
import { checkWritable } from '../options.ts';
import { Progress } from '../progress.ts';
import { loadFrame } from './shared.ts';

interface PredictOptions {
  out?: string;
  delimiter?: string;
  categorical?: string;
  quiet?: boolean;
}

/** The `predict` subcommand. */
export function predictCommand(): Command {
  return new Command('predict')
    .description('Predict every row of a data file with a saved model')
    .argument('<model>', 'model file written by distml train --save')
    .argument('<data>', 'data file with the feature columns the model was trained on')
    .option('--out <file>', 'write predictions here (.csv, .parquet, .arrow) instead of CSV on stdout')
    .option('--delimiter <char>', 'CSV field delimiter of the data')
    .option('--categorical <columns>', 'comma-separated columns to read as categories')
    .option('-q, --quiet', 'no progress on stderr')
    .option('--verbose', 'print stack traces of errors')
    .addHelpText('after', '\nExample:\n  distml predict model.distml new-rows.csv --out predictions.csv\n')
    .action(async (modelPath: string, dataPath: string, opts: PredictOptions) => {
      await checkWritable('--out', opts.out);
      const progress = new Progress({ quiet: opts.quiet ?? false });
      const model = await TrainedModel.load(modelPath);
      const frame = await loadFrame(dataPath, opts, progress);
      progress.start(`predicting ${frame.rows} rows`);
      const predictions = model.predict(frame, dataPath);
      for (const [column, rows] of Object.entries(predictions.unseen)) {
        progress.warn(`${rows} row(s) have a '${column}' value not seen in training; encoded as all zeros`);
      }
      const out = predictionsToFrame(predictions, model.meta.labels?.kind ?? 'string');
      progress.done(`${frame.rows} predictions`);
      if (opts.out !== undefined) await writeFrame(opts.out, out);
      else for (const chunk of csvChunks(out)) process.stdout.write(chunk);
    });
}
