/**
 * Steps several commands share: loading data with progress, scoring a model on labelled rows.
 */
import { stat } from 'node:fs/promises';
import type { Frame } from '../../data/frame.ts';
import { readFrame } from '../../data/read.ts';
import { cannotRead, DistmlError } from '../../errors.ts';
import type { TrainedModel } from '../../pipeline/trained-model.ts';
import { columnList } from '../options.ts';
import type { Progress } from '../progress.ts';

/** Reads `path` with progress on stderr. */
export async function loadFrame(
  path: string,
  opts: { delimiter?: string; categorical?: string },
  progress: Progress,
): Promise<Frame> {
  const info = await stat(path).catch((err: unknown) => {
    throw cannotRead(path, err);
  });
  if (info.isDirectory()) throw new DistmlError('FILE_IO', `${path} is a directory, not a data file`);
  progress.start(`loading ${path}`);
  const frame = await readFrame(path, {
    ...(opts.delimiter === undefined ? {} : { delimiter: opts.delimiter }),
    ...(opts.categorical === undefined
      ? {}
      : {
          categorical: columnList(opts.categorical),
        }),
    onProgress: (bytes, total) =>
      progress.update(total > 0 ? bytes / total : Number.NaN, `${(bytes / 1e6).toFixed(1)} MB`),
  });
  progress.done(`${frame.rows} rows × ${frame.columns.length} columns`);
  return frame;
}

/** Scores `model` on `frame`, warning about categories never seen in training. */
export function scoreRows(
  model: TrainedModel,
  frame: Frame,
  target: string,
  source: string,
  progress: Progress,
): Record<string, number> {
  const predictions = model.predict(frame, source);
  for (const [column, rows] of Object.entries(predictions.unseen)) {
    progress.warn(
      `${rows} row(s) of ${source} have a '${column}' value not seen in training; encoded as all zeros`,
    );
  }
  return { ...model.evaluatePredicted(frame, predictions, target) } as Record<string, number>;
}
