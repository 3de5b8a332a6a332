/**
 * The estimator contract, checked for every registered model (after scikit-learn's
 * test_common.py): bad parameters are refused by name, fitting twice equals fitting once, a model
 * survives a save/load round trip bit for bit, and partitioning changes only summation order.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Frame } from '../../src/data/frame.ts';
import { makeBlobs, makeRegression } from '../../src/data/generate.ts';
import { ParamError } from '../../src/errors.ts';
import { modelDefinitions } from '../../src/models/registry.ts';
import { train } from '../../src/pipeline/train.ts';
import { TrainedModel } from '../../src/pipeline/trained-model.ts';

let dir = '';
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'distml-conformance-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A small problem of the model's task, with a categorical column and missing values. */
function dataFor(task: 'classification' | 'regression'): { frame: Frame; target: string } {
  const base =
    task === 'classification'
      ? makeBlobs({ rows: 600, features: 4, centers: 3, seed: 7 }).frame
      : makeRegression({ rows: 600, features: 4, noise: 0.5, seed: 7 }).frame;
  const colour = Array.from({ length: base.rows }, (_, i) =>
    i % 7 === 0 ? null : ['red', 'green', 'blue'][i % 3]!,
  );
  const x0 = base.column('x0');
  assert.ok(x0.kind === 'number');
  const holed = Float64Array.from(x0.values, (v, i) => (i % 11 === 0 ? Number.NaN : v));
  const frame = base
    .withColumn({ kind: 'number', name: 'x0', values: holed })
    .withColumn(Frame.fromRecord({ colour }).column('colour'));
  return { frame, target: task === 'classification' ? 'cluster' : 'target' };
}

for (const definition of modelDefinitions()) {
  describe(`${definition.name} follows the estimator contract`, () => {
    const { frame, target } = dataFor(definition.task);

    test('every declared parameter has a default that validates', () => {
      assert.deepEqual(definition.params.validate(definition.name, {}), definition.params.defaults());
      assert.doesNotThrow(() => definition.create());
    });

    test('unknown parameters are refused by name', () => {
      assert.throws(
        () => definition.create({ notAParameter: 1 }),
        (err: Error) => {
          assert.ok(err instanceof ParamError);
          assert.match(err.message, new RegExp(`${definition.name} has no parameter 'notAParameter'`));
          return true;
        },
      );
    });

    test('fitting twice with one seed gives the same model', async () => {
      const a = await train(frame, { target, model: definition.name, seed: 3 });
      const b = await train(frame, { target, model: definition.name, seed: 3 });
      assert.deepStrictEqual(b.fitted.tensors(), a.fitted.tensors());
      assert.deepStrictEqual(b.predict(frame).values, a.predict(frame).values);
    });

    test('save → load → predict is bit-identical', async () => {
      const model = await train(frame, { target, model: definition.name });
      const path = join(dir, `${definition.name}.distml`);
      await model.save(path);
      const loaded = await TrainedModel.load(path);
      assert.equal(loaded.name, definition.name);
      assert.deepStrictEqual(loaded.params, model.params);
      assert.deepStrictEqual(loaded.predict(frame), model.predict(frame));
    });

    test('1 and 3 partitions agree to summation-order rounding', async () => {
      const one = (await train(frame, { target, model: definition.name, partitions: 1 })).predict(frame);
      const three = (await train(frame, { target, model: definition.name, partitions: 3 })).predict(frame);
      const p1 = one.proba ?? one.values;
      const p3 = three.proba ?? three.values;
      for (let i = 0; i < p1.length; i++) {
        assert.ok(
          Math.abs(p1[i]! - p3[i]!) <= 1e-6 * (1 + Math.abs(p1[i]!)),
          `output ${i}: ${p1[i]} vs ${p3[i]}`,
        );
      }
    });

    test('predicting rows without the target works, and a missing feature is named', async () => {
      const model = await train(frame, { target, model: definition.name });
      const features = frame.drop([target]);
      assert.equal(model.predict(features).rows, frame.rows);
      assert.throws(() => model.predict(features.drop(['x1'])), /needs feature column 'x1'/);
    });
  });
}
