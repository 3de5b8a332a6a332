/**
 * Logistic regression against the JavaScript peers, ml.js and TensorFlow.js (wasm backend), at a
 * size they can handle: a generated subsample with the same generator and seed as the 1,000,000-row
 * data. distml, scikit-learn and the JS peers all fit the same rows in this table.
 */
import type { BenchContext } from '../lib/context.ts';
import { datasetPath, ROOT } from '../lib/datasets.ts';
import type { PeerId } from '../lib/peers.ts';
import { lastLine, runMeasured } from '../lib/proc.ts';
import type { SystemRow, SystemsSection } from '../lib/results.ts';
import { median } from '../lib/stats.ts';
import { runModelWorkload } from './systems.ts';

const ITERATIONS = 100;

interface ChildOutput {
  settings: string;
  backend: string;
  iterations: number;
  fitSeconds: number[];
  predictSeconds: number[];
  scores: number[];
}

function jsPeerRow(
  ctx: BenchContext,
  id: 'mljs' | 'tfjs',
  peers: PeerId[],
  system: string,
  file: string,
): SystemRow {
  for (const p of peers) {
    const status = ctx.peers[p];
    if (!status.available && p !== 'tfjsWasm') return { id, system, runs: 0, skipped: status.reason! };
  }
  const child = new URL('../js-peer-child.ts', import.meta.url).pathname;
  const args = [
    '--import',
    'tsx',
    child,
    id,
    file,
    '--runs',
    String(ctx.runs),
    '--iterations',
    String(ITERATIONS),
  ];
  const run = runMeasured(process.execPath, args, { cwd: ROOT });
  if (run.status !== 0)
    return { id, system, runs: 0, skipped: `${id} child failed: ${lastLine(run.stderr)}` };
  const out = JSON.parse(run.stdout) as ChildOutput;
  const version = ctx.peers[peers[0]!].version;
  return {
    id,
    system: `${system} ${version}${id === 'tfjs' ? ` (${out.backend} backend)` : ''}`,
    settings: out.settings,
    fitSeconds: median(out.fitSeconds),
    predictSeconds: median(out.predictSeconds),
    ...(run.peakRssBytes === undefined ? {} : { peakRssBytes: run.peakRssBytes }),
    iterations: out.iterations,
    score: median(out.scores),
    runs: out.fitSeconds.length,
  };
}

/** The subsample table. */
export function jsPeersWorkload(ctx: BenchContext): SystemsSection {
  const rows = ctx.quick ? 5_000 : 50_000;
  const section = runModelWorkload(
    {
      id: 'js-peers',
      title: `Logistic regression against JavaScript peers, ${rows.toLocaleString('en-US')} × 50`,
      about: [
        `ml.js and TensorFlow.js are not built for a million rows, so this table uses ${rows.toLocaleString('en-US')} ` +
          'rows from the same generator (same seed) for every system in it. Each peer gets its own best fit of ' +
          `the same model for ${ITERATIONS} iterations: ml.js has only plain gradient descent (its step scaled to ` +
          'the mean gradient), TensorFlow.js has no L-BFGS, so it runs full-batch Adam. distml and scikit-learn ' +
          'run L-BFGS exactly as in the 1,000,000-row table. All standardize the features with the training rows. ' +
          'TensorFlow.js runs its wasm backend, loaded from node_modules; the row names the backend it used.',
      ],
      data: { kind: 'classification', rows, features: 50, seed: 1 },
      target: 'label',
      task: 'logistic',
      model: 'logistic-regression',
      params: ['C=1', `maxIter=${ITERATIONS}`, 'tol=0.0001'],
      distmlSettings: `L-BFGS, C=1, maxIter=${ITERATIONS}, tol=1e-4 (on the objective ÷ n)`,
      peerArgs: ['--max-iter', String(ITERATIONS), '--tol', '0.0001', '--C', '1'],
      scoreKey: 'accuracy',
      pythonPeers: [{ id: 'sklearn', system: 'scikit-learn', peer: 'sklearn', script: 'sklearn' }],
    },
    ctx,
  );
  const file = datasetPath({ kind: 'classification', rows, features: 50, seed: 1 });
  section.rows.push(jsPeerRow(ctx, 'mljs', ['mljs'], 'ml.js ml-logistic-regression', file));
  section.rows.push(jsPeerRow(ctx, 'tfjs', ['tfjs', 'tfjsWasm'], 'TensorFlow.js', file));
  section.headline = 'tfjs';
  return section;
}
