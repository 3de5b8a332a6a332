/**
 * linear-svc with `loss: 'hinge'`, trained by the SGD loop on the parameter server, against
 * scikit-learn 1.2.1's LinearSVC(loss='hinge') (liblinear's dual coordinate descent, run to
 * tol=1e-6). Split as the other reference tests: the last 20% of rows test, features standardized
 * on the training rows. SGD does not reach liblinear's exact optimum, so the comparison is of test
 * accuracy (to one test row) and of the primal objective ½‖W‖² + C·Σ hinge with the intercept left
 * out of the penalty, as SGD leaves it out (liblinear penalises it, so its solution scores a little
 * above the optimum of this form). Computed with Debian's /usr/bin/python3 from the repository root:
 *
 *   import numpy as np, pandas as pd
 *   from sklearn.svm import LinearSVC
 *   from sklearn.preprocessing import StandardScaler
 *   def split(name, target):
 *       df = pd.read_csv(f'data/{name}.csv'); y = df.pop(target).to_numpy(); X = df.to_numpy(float)
 *       n = len(y) - round(0.2 * len(y)); sc = StandardScaler().fit(X[:n])
 *       return sc.transform(X[:n]), y[:n], sc.transform(X[n:]), y[n:]
 *   for name in ['breast_cancer', 'iris', 'wine', 'digits']:
 *       Xa, ya, Xb, yb = split(name, 'label')
 *       m = LinearSVC(loss='hinge', C=1.0, max_iter=1_000_000, tol=1e-6).fit(Xa, ya)
 *       c = m.classes_
 *       S = np.where(ya[:, None] == c, 1.0, -1.0) if len(c) > 2 else np.where(ya == c[1], 1.0, -1.0)[:, None]
 *       f = 0.5 * (m.coef_ ** 2).sum() + np.maximum(0, 1 - S * (Xa @ m.coef_.T + m.intercept_)).sum()
 *       print(name, round(m.score(Xb, yb), 4), round(f, 4))
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { readFrame } from '../../data/read.ts';
import type { ClassificationScores } from '../../metrics/classification.ts';
import { splitFrame } from '../../pipeline/split-frame.ts';
import { train } from '../../pipeline/train.ts';
import { encodeLabels } from '../../preprocess/labels.ts';
import { applyPlan } from '../../preprocess/preprocessor.ts';
import { FittedLinearSvc } from './linear-svc.ts';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** ½‖W‖² + C·Σᵢ Σ_c max(0, 1 − sᵢc·zᵢc), the intercept unpenalised. */
function objective(model: FittedLinearSvc, X: Float64Array, y: Int32Array, C: number): number {
  const d = model.features;
  const r = model.intercept.length;
  const z = model.decisionFunction(X, y.length);
  let f = 0;
  for (const w of model.coef) f += 0.5 * w * w;
  for (let i = 0; i < y.length; i++) {
    for (let c = 0; c < r; c++) {
      const s = (r === 1 ? y[i] === 1 : y[i] === c) ? 1 : -1;
      f += C * Math.max(0, 1 - s * z[i * r + c]!);
    }
  }
  assert.equal(model.coef.length, r * d);
  return f;
}

// [dataset, scikit-learn's test accuracy, its objective]. Ours, measured over seeds 0–9: the same
// accuracy on breast_cancer and wine, one iris row fewer (0.8333), digits 0.9554–0.9638; the
// objective 5.1%, 1.6%, 13% and 5.6% above scikit-learn's.
const REFERENCE: Array<[string, number, number]> = [
  ['breast_cancer', 0.9737, 23.1186],
  ['iris', 0.8667, 82.2043],
  ['wine', 0.9722, 9.1151],
  ['digits', 0.961, 206.0345],
];

for (const [dataset, accuracy, sklearnObjective] of REFERENCE) {
  test(`linear-svc loss=hinge on ${dataset}: liblinear's accuracy to one row, objective within 20%`, async () => {
    const frame = await readFrame(join(ROOT, 'data', `${dataset}.csv`));
    const { train: rows, test: held } = splitFrame(frame, { testFraction: 0.2, method: 'tail' });
    const model = await train(rows, { target: 'label', model: 'linear-svc', params: { loss: 'hinge' } });
    const fitted = model.fitted;
    assert.ok(fitted instanceof FittedLinearSvc);
    assert.match(model.meta.fit.reason!, /^SGD on the hinge loss: 50 epoch\(s\)/);
    const ours = (model.evaluate(held) as ClassificationScores).accuracy;
    assert.ok(Math.abs(ours - accuracy) <= 1 / held.rows + 1e-4, `accuracy ${ours} vs ${accuracy}`);
    const { X } = applyPlan(model.meta.preprocessing, rows.drop(['label']));
    const y = encodeLabels(model.meta.labels!, rows.column('label'));
    const f = objective(fitted, X, y, 1);
    assert.ok(f <= 1.2 * sklearnObjective, `objective ${f} vs scikit-learn's ${sklearnObjective}`);
  });
}
