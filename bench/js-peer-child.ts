/**
 * One JS peer (ml.js or TensorFlow.js) fitting logistic regression on a CSV, in a fresh process so
 * its peak memory is its own. Reading, splitting (the last 20% of rows are the test set) and
 * standardizing are not timed. Prints one JSON line: fit and predict seconds per run, test
 * accuracy, the backend used.
 *
 *   node --import tsx bench/js-peer-child.ts mljs|tfjs FILE --runs K --iterations N --C C
 */
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';
import { readCsv } from '../src/data/csv-reader.ts';

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    runs: { type: 'string', default: '3' },
    iterations: { type: 'string', default: '100' },
    C: { type: 'string', default: '1' },
  },
});
const [system, file] = positionals;
if ((system !== 'mljs' && system !== 'tfjs') || file === undefined) {
  throw new Error('usage: js-peer-child.ts mljs|tfjs FILE [--runs K] [--iterations N] [--C C]');
}
const runs = Number(values.runs);
const iterations = Number(values.iterations);
const C = Number(values.C);

// Row-major standardized features (statistics of the training rows) and 0/1 labels.
const frame = await readCsv(file);
const features = frame.columns.filter((c) => c.name !== 'label');
const labelColumn = frame.column('label');
if (labelColumn.kind !== 'number') throw new Error(`${file}: label must be numeric`);
const n = frame.rows;
const nTest = Math.round(n * 0.2);
const nTrain = n - nTest;
const d = features.length;
const X = new Float64Array(n * d);
features.forEach((c, j) => {
  if (c.kind !== 'number') throw new Error(`${file}: column ${c.name} must be numeric`);
  let mean = 0;
  for (let i = 0; i < nTrain; i++) mean += c.values[i]!;
  mean /= nTrain;
  let variance = 0;
  for (let i = 0; i < nTrain; i++) variance += (c.values[i]! - mean) ** 2;
  const sd = Math.sqrt(variance / nTrain) || 1;
  for (let i = 0; i < n; i++) X[i * d + j] = (c.values[i]! - mean) / sd;
});
const y = labelColumn.values;

function accuracy(predicted: ArrayLike<number>): number {
  let right = 0;
  for (let i = 0; i < nTest; i++) if (predicted[i] === y[nTrain + i]) right++;
  return right / nTest;
}

interface Timed {
  fitSeconds: number;
  predictSeconds: number;
  score: number;
}

/** The parts of ml-matrix's and ml-logistic-regression's untyped APIs used here. */
interface MlMatrixClass {
  new (rows: number[][]): object;
  columnVector(values: number[]): object;
}
type MlLogisticClass = new (options: {
  numSteps: number;
  learningRate: number;
}) => { train(X: object, y: object): void; predict(X: object): number[] };

async function mljs(): Promise<{ settings: string; backend: string; run: () => Promise<Timed> }> {
  // Untyped CommonJS packages: loaded by name so the typecheck does not need their types.
  const require = createRequire(import.meta.url);
  const { Matrix } = require('ml-matrix') as { Matrix: MlMatrixClass };
  const LogisticRegression = require('ml-logistic-regression') as MlLogisticClass;
  // ml.js has no intercept: a column of ones gives it one.
  const rowsOf = (from: number, to: number) => {
    const out: number[][] = [];
    for (let i = from; i < to; i++) out.push([...X.subarray(i * d, (i + 1) * d), 1]);
    return out;
  };
  const train = new Matrix(rowsOf(0, nTrain));
  const test = new Matrix(rowsOf(nTrain, n));
  const target = Matrix.columnVector(Array.from(y.subarray(0, nTrain)));
  // Its gradient is a sum over rows, so the step is scaled by 1/n: a unit step on the mean gradient.
  const learningRate = 1 / nTrain;
  return {
    settings: `gradient descent, ${iterations} steps, learning rate 1/n, one-vs-rest (2 models for 2 classes), no penalty`,
    backend: 'ml-matrix (JS)',
    run: async () => {
      const model = new LogisticRegression({ numSteps: iterations, learningRate });
      let t = performance.now();
      model.train(train, target);
      const fitSeconds = (performance.now() - t) / 1000;
      t = performance.now();
      const predicted = model.predict(test);
      const predictSeconds = (performance.now() - t) / 1000;
      return { fitSeconds, predictSeconds, score: accuracy(predicted) };
    },
  };
}

async function tfjs(): Promise<{ settings: string; backend: string; run: () => Promise<Timed> }> {
  const tf = await import('@tensorflow/tfjs');
  let backend = 'cpu';
  try {
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    const require = createRequire(import.meta.url);
    // The .wasm binaries ship in the package: load them from node_modules, never from the network.
    wasm.setWasmPaths(require.resolve('@tensorflow/tfjs-backend-wasm').replace(/[^/]+$/, ''));
    if (await tf.setBackend('wasm')) backend = 'wasm';
  } catch (err) {
    process.stderr.write(`tfjs wasm backend unavailable, using cpu: ${(err as Error).message}\n`);
    await tf.setBackend('cpu');
  }
  await tf.ready();
  const Xtrain = tf.tensor2d(Float32Array.from(X.subarray(0, nTrain * d)), [nTrain, d]);
  const Xtest = tf.tensor2d(Float32Array.from(X.subarray(nTrain * d)), [nTest, d]);
  const ytrain = tf.tensor2d(Float32Array.from(y.subarray(0, nTrain)), [nTrain, 1]);
  const penalty = 1 / (2 * C * nTrain);
  return {
    settings: `full-batch Adam (lr 0.1), ${iterations} steps, float32, L2 as C=${C}`,
    backend,
    run: async () => {
      const w = tf.variable(tf.zeros([d, 1]));
      const b = tf.variable(tf.zeros([1]));
      const optimizer = tf.train.adam(0.1);
      let t = performance.now();
      for (let step = 0; step < iterations; step++) {
        const loss = optimizer.minimize(
          () =>
            tf.add(
              tf.losses.sigmoidCrossEntropy(ytrain, tf.add(tf.matMul(Xtrain, w), b)),
              tf.mul(penalty, tf.sum(tf.square(w))),
            ) as import('@tensorflow/tfjs').Scalar,
          true,
        );
        loss?.dispose();
      }
      await w.data(); // wait for the backend to finish
      const fitSeconds = (performance.now() - t) / 1000;
      t = performance.now();
      const logits = tf.add(tf.matMul(Xtest, w), b);
      const predicted = Array.from(await logits.data(), (z) => (z > 0 ? 1 : 0));
      const predictSeconds = (performance.now() - t) / 1000;
      logits.dispose();
      w.dispose();
      b.dispose();
      optimizer.dispose();
      return { fitSeconds, predictSeconds, score: accuracy(predicted) };
    },
  };
}

const peer = system === 'mljs' ? await mljs() : await tfjs();
const results: Timed[] = [];
for (let i = 0; i < runs; i++) {
  results.push(await peer.run());
  process.stderr.write(`    ${system}: fit ${results.at(-1)!.fitSeconds.toFixed(2)}s\n`);
  if (results.at(-1)!.fitSeconds > 60) break; // a fit this long is not repeated
}
process.stdout.write(
  `${JSON.stringify({
    settings: peer.settings,
    backend: peer.backend,
    iterations,
    fitSeconds: results.map((r) => r.fitSeconds),
    predictSeconds: results.map((r) => r.predictSeconds),
    scores: results.map((r) => r.score),
  })}\n`,
);
