import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DistmlError } from '../errors.ts';
import {
  accuracy,
  balancedAccuracy,
  classificationScores,
  confusionMatrix,
  logLoss,
  precisionRecallF1,
  precisionRecallF1PerClass,
  rocAuc,
  rocAucOvr,
} from './classification.ts';

// Expected values marked "sklearn" were computed once with Debian's scikit-learn 1.2.1
// (/usr/bin/python3, `from sklearn import metrics as M`) by the snippet quoted beside them, and
// pasted here; the tests never run Python. Closed-form answers must agree to 1e-12 relative.

function assertClose(actual: number, expected: number, rel = 1e-12): void {
  assert.ok(
    Math.abs(actual - expected) <= rel * Math.abs(expected),
    `${actual} is not within ${rel} (relative) of ${expected}`,
  );
}

function assertAllClose(actual: Float64Array, expected: readonly number[]): void {
  assert.equal(actual.length, expected.length);
  for (let i = 0; i < expected.length; i++) {
    if (expected[i] === 0) assert.equal(actual[i], 0, `index ${i}`);
    else assertClose(actual[i]!, expected[i]!);
  }
}

function throwsCode(fn: () => unknown, code: string, message: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof DistmlError, `expected a DistmlError, got ${String(e)}`);
    assert.equal(e.code, code);
    assert.match(e.message, message);
    return true;
  });
}

const i32 = (xs: readonly number[]): Int32Array => Int32Array.from(xs);
const f64 = (xs: readonly number[]): Float64Array => Float64Array.from(xs);

// Hand case, 3 classes. Confusion (rows true, columns predicted): [[1,1,0],[0,2,0],[1,0,1]].
// Recall 1/2, 2/2, 1/2. Precision: class 0 predicted twice, once right → 1/2; class 1 predicted
// three times, twice right → 2/3; class 2 predicted once, right → 1.
// F1 = 2PR/(P+R): 1/2; 2·(2/3)·1/(5/3) = 4/5; 2·1·(1/2)/(3/2) = 2/3.
const handTrue = i32([0, 0, 1, 1, 2, 2]);
const handPred = i32([0, 1, 1, 1, 2, 0]);

// sklearn: rng = np.random.default_rng(7); yt = rng.integers(0, 3, 40); yp = rng.integers(0, 4, 40)
// Declared with 5 classes: class 3 occurs only in yPred, class 4 in neither.
const randTrue = i32([
  2, 1, 2, 2, 1, 2, 2, 0, 0, 0, 0, 2, 2, 0, 1, 2, 0, 2, 0, 1, 2, 0, 1, 0, 2, 0, 2, 1, 1, 1, 1, 1, 1, 2, 2, 2,
  2, 1, 1, 2,
]);
const randPred = i32([
  1, 0, 3, 0, 3, 2, 0, 0, 1, 0, 0, 2, 3, 1, 3, 3, 3, 2, 1, 2, 1, 1, 1, 0, 3, 0, 0, 0, 3, 2, 3, 0, 2, 1, 1, 0,
  2, 3, 2, 0,
]);

describe('accuracy', () => {
  test('hand case: 4 of 6 right', () => {
    assertClose(accuracy(handTrue, handPred), 4 / 6);
  });
  test('matches sklearn accuracy_score', () => {
    // sklearn: M.accuracy_score(yt, yp) → 0.25
    assert.equal(accuracy(randTrue, randPred), 0.25);
  });
});

describe('balancedAccuracy', () => {
  test('hand case: mean of recalls 1/2, 1, 1/2', () => {
    assertClose(balancedAccuracy(handTrue, handPred, 3), 2 / 3);
  });
  test('averages only classes present in yTrue, like sklearn', () => {
    // sklearn: M.balanced_accuracy_score(yt, yp) → 0.2707390648567119 (warns that class 3 is only predicted)
    assertClose(balancedAccuracy(randTrue, randPred, 5), 0.2707390648567119);
  });
});

describe('confusionMatrix', () => {
  test('hand case, rows true and columns predicted', () => {
    assert.deepEqual(confusionMatrix(handTrue, handPred, 3), i32([1, 1, 0, 0, 2, 0, 1, 0, 1]));
  });
  test('matches sklearn with labels=range(5)', () => {
    // sklearn: M.confusion_matrix(yt, yp, labels=range(5)).ravel()
    assert.deepEqual(
      confusionMatrix(randTrue, randPred, 5),
      i32([5, 4, 0, 1, 0, 3, 1, 4, 5, 0, 5, 4, 4, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
    );
  });
});

describe('precisionRecallF1', () => {
  test('hand case, macro: means of the per-class scores', () => {
    // P = (1/2 + 2/3 + 1)/3 = 13/18; R = (1/2 + 1 + 1/2)/3 = 2/3; F1 = (1/2 + 4/5 + 2/3)/3 = 59/90
    const s = precisionRecallF1(handTrue, handPred, 3, 'macro');
    assertClose(s.precision, 13 / 18);
    assertClose(s.recall, 2 / 3);
    assertClose(s.f1, 59 / 90);
  });
  test('hand case, micro equals accuracy and weighted equals macro (equal supports)', () => {
    const micro = precisionRecallF1(handTrue, handPred, 3, 'micro');
    assertClose(micro.precision, 4 / 6);
    assertClose(micro.recall, 4 / 6);
    assertClose(micro.f1, 4 / 6);
    const weighted = precisionRecallF1(handTrue, handPred, 3, 'weighted');
    assertClose(weighted.precision, 13 / 18);
    assertClose(weighted.f1, 59 / 90);
  });
  test('macro, micro and weighted match sklearn; classes seen nowhere are not averaged', () => {
    // sklearn: M.precision_recall_fscore_support(yt, yp, average=avg, zero_division=0)[:3]
    const expected = {
      macro: [0.24893162393162394, 0.20305429864253394, 0.21142292490118578],
      micro: [0.25, 0.25, 0.25],
      weighted: [0.34476495726495726, 0.25, 0.27424110671936763],
    } as const;
    for (const avg of ['macro', 'micro', 'weighted'] as const) {
      const s = precisionRecallF1(randTrue, randPred, 5, avg);
      const [p, r, f] = expected[avg];
      assertClose(s.precision, p);
      assertClose(s.recall, r);
      assertClose(s.f1, f);
    }
  });
  test('binary hand case: tp 2, predicted 3, actual 3', () => {
    const s = precisionRecallF1(i32([1, 1, 1, 0, 0]), i32([1, 0, 1, 1, 0]), 2, 'binary');
    assertClose(s.precision, 2 / 3);
    assertClose(s.recall, 2 / 3);
    assertClose(s.f1, 2 / 3);
  });
  test('binary matches sklearn for both positive classes', () => {
    // sklearn: rng = np.random.default_rng(7); (after the 80 draws above) bt = rng.integers(0, 2, 30);
    //   bp = rng.integers(0, 2, 30); M.precision_recall_fscore_support(bt, bp, average='binary',
    //   pos_label=pos, zero_division=0)[:3]
    const bt = i32([
      1, 0, 1, 1, 0, 1, 1, 1, 1, 1, 0, 1, 0, 0, 0, 1, 1, 1, 1, 1, 1, 0, 1, 1, 0, 0, 1, 0, 1, 0,
    ]);
    const bp = i32([
      0, 0, 0, 1, 0, 0, 1, 1, 0, 1, 0, 1, 0, 1, 1, 1, 1, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 1, 1, 0,
    ]);
    const pos1 = precisionRecallF1(bt, bp, 2, 'binary');
    assertClose(pos1.precision, 0.6923076923076923);
    assertClose(pos1.recall, 0.47368421052631576);
    assertClose(pos1.f1, 0.5625);
    const pos0 = precisionRecallF1(bt, bp, 2, 'binary', 0);
    assertClose(pos0.precision, 0.4117647058823529);
    assertClose(pos0.recall, 0.6363636363636364);
    assertClose(pos0.f1, 0.5);
  });
  test('zero_division=0: a class never predicted, or absent everywhere, scores 0', () => {
    // No positive predictions: precision 0/0 → 0; recall 0/2 = 0; F1 0.
    assert.deepEqual(precisionRecallF1(i32([1, 1, 0]), i32([0, 0, 0]), 2, 'binary'), {
      precision: 0,
      recall: 0,
      f1: 0,
    });
    // The positive class occurs nowhere: sklearn scores it 0 rather than refusing.
    assert.deepEqual(precisionRecallF1(i32([0, 0]), i32([0, 0]), 2, 'binary'), {
      precision: 0,
      recall: 0,
      f1: 0,
    });
  });
  test('binary is refused for three classes, and for a positive class absent beside two others', () => {
    throwsCode(
      () => precisionRecallF1(handTrue, handPred, 3, 'binary'),
      'DATA_VALUE',
      /needs at most two classes, but yTrue and yPred hold 3/,
    );
    throwsCode(
      () => precisionRecallF1(i32([0, 2]), i32([2, 0]), 3, 'binary', 1),
      'DATA_VALUE',
      /positiveClass 1 occurs in neither/,
    );
    throwsCode(
      () => precisionRecallF1(i32([0, 1]), i32([1, 0]), 2, 'binary', 2),
      'PARAM_INVALID',
      /positiveClass is 2/,
    );
  });
  test('an unknown average is refused by name', () => {
    throwsCode(
      () => precisionRecallF1(handTrue, handPred, 3, 'samples' as 'macro'),
      'PARAM_INVALID',
      /average 'samples' is not one of binary, macro, micro, weighted/,
    );
  });
});

describe('precisionRecallF1PerClass', () => {
  test('hand case', () => {
    const s = precisionRecallF1PerClass(handTrue, handPred, 3);
    assertAllClose(s.precision, [1 / 2, 2 / 3, 1]);
    assertAllClose(s.recall, [1 / 2, 1, 1 / 2]);
    assertAllClose(s.f1, [1 / 2, 4 / 5, 2 / 3]);
    assert.deepEqual(s.support, i32([2, 2, 2]));
  });
  test('matches sklearn average=None, labels=range(5)', () => {
    // sklearn: M.precision_recall_fscore_support(yt, yp, average=None, labels=range(5), zero_division=0)
    const s = precisionRecallF1PerClass(randTrue, randPred, 5);
    assertAllClose(s.precision, [0.38461538461538464, 0.1111111111111111, 0.5, 0, 0]);
    assertAllClose(s.recall, [0.5, 0.07692307692307693, 0.23529411764705882, 0, 0]);
    assertAllClose(s.f1, [0.4347826086956522, 0.09090909090909093, 0.31999999999999995, 0, 0]);
    assert.deepEqual(s.support, i32([10, 13, 17, 0, 0]));
  });
});

describe('rocAuc', () => {
  test('hand case without ties (sklearn docs example)', () => {
    // Positives 0.35, 0.8 against negatives 0.1, 0.4: 0.35 beats 0.1; 0.8 beats both → 3/4.
    assert.equal(rocAuc(i32([0, 0, 1, 1]), f64([0.1, 0.4, 0.35, 0.8])), 0.75);
  });
  test('hand case with a tie across classes counts one half', () => {
    // Positives 0.5, 0.9 against negatives 0.5, 0.2: (½ + 1 + 1 + 1)/4 = 7/8.
    assert.equal(rocAuc(i32([0, 1, 0, 1]), f64([0.5, 0.5, 0.2, 0.9])), 0.875);
  });
  test('all scores tied gives 1/2, and -0 ties with +0', () => {
    assert.equal(rocAuc(i32([0, 1, 1, 0, 1]), f64([3, 3, 3, 3, 3])), 0.5);
    assert.equal(rocAuc(i32([0, 1]), f64([0, -0])), 0.5);
  });
  test('many ties match sklearn roc_auc_score', () => {
    // sklearn: rng = np.random.default_rng(11); y = rng.integers(0, 2, 30);
    //   s = np.round(rng.random(30), 1); M.roc_auc_score(y, s) → 0.3348214285714286
    const y = i32([0, 0, 1, 0, 1, 1, 1, 0, 0, 0, 0, 1, 1, 0, 1, 0, 1, 1, 1, 1, 1, 0, 0, 1, 0, 1, 1, 0, 1, 0]);
    const s = f64([
      0.8, 0.7, 0.5, 0.8, 0.5, 1.0, 0.2, 0.6, 0.5, 0.4, 0.6, 0.2, 0.8, 0.9, 0.1, 0.5, 0.3, 0.1, 0.9, 0.4, 0.1,
      0.7, 0.2, 0.9, 0.2, 0.0, 0.2, 0.3, 0.5, 0.9,
    ]);
    assertClose(rocAuc(y, s), 0.3348214285714286);
  });
  test('agrees with a brute-force count over all pairs', () => {
    // Independent O(n²) reference on integer scores, where ties are frequent.
    const n = 200;
    const y = new Int32Array(n);
    const s = new Float64Array(n);
    let seed = 12345;
    for (let i = 0; i < n; i++) {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      y[i] = seed % 3 === 0 ? 1 : 0;
      s[i] = (seed >>> 8) % 17;
    }
    let wins = 0;
    let pairs = 0;
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        if (y[i] !== 1 || y[j] !== 0) continue;
        pairs++;
        wins += s[i]! > s[j]! ? 1 : s[i] === s[j] ? 0.5 : 0;
      }
    }
    assertClose(rocAuc(y, s), wins / pairs);
  });
  test('one class only is refused, naming the class', () => {
    throwsCode(
      () => rocAuc(i32([1, 1, 1]), f64([0.1, 0.2, 0.3])),
      'DATA_VALUE',
      /only class 1 \(3 samples\)/,
    );
  });
  test('labels other than 0/1 and non-finite scores are refused', () => {
    throwsCode(() => rocAuc(i32([0, 2]), f64([0.1, 0.2])), 'DATA_VALUE', /yTrue\[1\] is 2/);
    throwsCode(() => rocAuc(i32([0, 1]), f64([0.1, Number.NaN])), 'DATA_VALUE', /scores\[1\] is NaN/);
  });
});

// Hand case for one-vs-rest, rows of proba:
//   y=0 [0.6, 0.3, 0.1]; y=1 [0.2, 0.5, 0.3]; y=2 [0.3, 0.5, 0.2]; y=2 [0.1, 0.2, 0.7]
// class 0: 0.6 beats 0.2, 0.3, 0.1 → 1
// class 1: 0.5 against 0.3, 0.5, 0.2 → (1 + ½ + 1)/3 = 5/6
// class 2: 0.2, 0.7 against 0.1, 0.3 → (1 + 0 + 1 + 1)/4 = 3/4
// macro = (1 + 5/6 + 3/4)/3 = 31/36; weighted by supports 1, 1, 2 = (1 + 5/6 + 3/2)/4 = 5/6
const ovrTrue = i32([0, 1, 2, 2]);
const ovrProba = f64([0.6, 0.3, 0.1, 0.2, 0.5, 0.3, 0.3, 0.5, 0.2, 0.1, 0.2, 0.7]);

// sklearn: rng = np.random.default_rng(11) (after the 60 draws of the rocAuc case above);
//   base = np.array([[.2,.5,.3],[.6,.1,.3],[.25,.25,.5],[.2,.3,.5],[1/3,1/3,1/3]]);
//   pick = rng.integers(0, 5, 24); P = base[pick]; yo = rng.integers(0, 3, 24)
// Rows repeat, so scores tie within and across classes.
const base3 = [
  [0.2, 0.5, 0.3],
  [0.6, 0.1, 0.3],
  [0.25, 0.25, 0.5],
  [0.2, 0.3, 0.5],
  [1 / 3, 1 / 3, 1 / 3],
] as const;
const pick3 = [3, 3, 3, 1, 4, 0, 1, 0, 0, 4, 0, 2, 4, 3, 4, 0, 2, 0, 0, 4, 0, 2, 0, 1];
const tiedProba = f64(pick3.flatMap((p) => base3[p]!));
const tiedTrue = i32([2, 0, 0, 0, 2, 0, 1, 0, 0, 2, 0, 1, 1, 0, 1, 2, 2, 0, 2, 0, 0, 1, 2, 2]);

describe('rocAucOvr', () => {
  test('hand case, macro and weighted', () => {
    assertClose(rocAucOvr(ovrTrue, ovrProba, 3), 31 / 36);
    assertClose(rocAucOvr(ovrTrue, ovrProba, 3, 'weighted'), 5 / 6);
  });
  test('tied scores match sklearn multi_class="ovr"', () => {
    // sklearn: M.roc_auc_score(yo, P, multi_class='ovr', average=avg, labels=[0, 1, 2])
    assertClose(rocAucOvr(tiedTrue, tiedProba, 3, 'macro'), 0.3330691786283892);
    assertClose(rocAucOvr(tiedTrue, tiedProba, 3, 'weighted'), 0.33689692982456143);
  });
  test('two classes is the binary AUC on the second column', () => {
    const y = i32([0, 0, 1, 1]);
    const p1 = [0.1, 0.4, 0.35, 0.8];
    const proba = f64(p1.flatMap((p) => [1 - p, p]));
    assert.equal(rocAucOvr(y, proba, 2), rocAuc(y, f64(p1)));
    assert.equal(rocAucOvr(y, proba, 2, 'weighted'), 0.75);
  });
  test('a class absent from yTrue is refused, naming it', () => {
    throwsCode(
      () => rocAucOvr(i32([0, 1, 0, 1]), ovrProba, 3),
      'DATA_VALUE',
      /class 2 never occurs in yTrue \(4 samples\)/,
    );
  });
  test('rows that are not probabilities are refused, as sklearn does', () => {
    const bad = Float64Array.from(ovrProba);
    bad[4] = 0.9;
    throwsCode(() => rocAucOvr(ovrTrue, bad, 3), 'DATA_VALUE', /row 1 of proba sums to 1\.4/);
  });
  test('proba of the wrong shape is refused, naming both sizes', () => {
    throwsCode(
      () => rocAucOvr(ovrTrue, ovrProba.subarray(0, 9), 3),
      'DATA_VALUE',
      /proba has 9 values but yTrue has 4 samples; expected 4 rows × 3 classes = 12/,
    );
  });
});

// sklearn: continuing rng = np.random.default_rng(11) after the rocAucOvr draws:
//   Q = rng.random((12, 4)); Q /= Q.sum(axis=1, keepdims=True)
//   Q[0] = [0, 0, 1, 0]; Q[1] = [1, 0, 0, 0]; Q[2] = [0.3, 0.3, 0.3, 0.3]
//   yl = rng.integers(0, 4, 12); yl[0] = 2; yl[1] = 3; yl[2] = 0
// Row 1 puts probability 0 on its true class (clipping decides the loss) and row 2 sums to 1.2
// (renormalisation matters).
const llTrue = i32([2, 3, 0, 2, 1, 0, 0, 0, 2, 0, 3, 2]);
const llProba = f64([
  0.0, 0.0, 1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.3, 0.3, 0.3, 0.3, 0.3628720400989709, 0.34903850358588884,
  0.1263675191117164, 0.16172193720342387, 0.26904464016574164, 0.6389808484604184, 0.03424956571350781,
  0.05772494566033215, 0.18068336608824123, 0.10960469901072102, 0.3779799195231844, 0.33173201537785335,
  0.2036086267151153, 0.24676366062607066, 0.2582549510057221, 0.291372761653092, 0.5021699698416687,
  0.0810698621643261, 0.3390004118691875, 0.07775975612481766, 0.1536865868894317, 0.2726991374972009,
  0.3102989148320101, 0.2633153607813572, 0.02274598065564964, 0.23088378385785638, 0.10474655951160186,
  0.6416236759748921, 0.17858245294942116, 0.3029556931461322, 0.44296090083624695, 0.07550095306819968,
  0.4020693545343002, 0.2939635339823994, 0.07379478948952718, 0.23017232199377316,
]);

describe('logLoss', () => {
  test('hand case, binary: −(ln 0.8 + ln 0.6)/2', () => {
    assertClose(logLoss(i32([1, 0]), f64([0.2, 0.8, 0.6, 0.4]), 2), -(Math.log(0.8) + Math.log(0.6)) / 2);
  });
  test('hand case: a 0 on the true class is clipped to eps; rows are renormalised', () => {
    // [0, 1] clips to [eps, 1 − eps], which still sums to 1: loss −ln(eps).
    assertClose(logLoss(i32([0]), f64([0, 1]), 2), -Math.log(Number.EPSILON));
    assertClose(logLoss(i32([0]), f64([0, 1]), 2, 1e-15), -Math.log(1e-15));
    // [0.25, 0.25] renormalises to [0.5, 0.5]: loss ln 2.
    assertClose(logLoss(i32([1]), f64([0.25, 0.25]), 2), Math.LN2);
  });
  test('multi-class with clipping and renormalisation matches sklearn 1.2', () => {
    // sklearn: M.log_loss(yl, Q, labels=range(4)) → 4.506786160025432 (eps='auto', the float64 epsilon)
    assertClose(logLoss(llTrue, llProba, 4), 4.506786160025432);
    // sklearn: M.log_loss(yl, Q, labels=range(4), eps=1e-15) → 4.38137974384156
    assertClose(logLoss(llTrue, llProba, 4, 1e-15), 4.38137974384156);
  });
  test('refuses one class, a bad eps, labels out of range and NaN', () => {
    throwsCode(
      () => logLoss(i32([0]), f64([1]), 1),
      'PARAM_INVALID',
      /nClasses is 1, expected an integer >= 2/,
    );
    throwsCode(() => logLoss(i32([0]), f64([0.5, 0.5]), 2, 0), 'PARAM_INVALID', /eps is 0/);
    throwsCode(
      () => logLoss(i32([2]), f64([0.5, 0.5]), 2),
      'DATA_VALUE',
      /yTrue\[0\] is 2, outside the class range 0\.\.1/,
    );
    throwsCode(() => logLoss(i32([0]), f64([Number.NaN, 0.5]), 2), 'DATA_VALUE', /proba\[0\] is NaN/);
  });
});

describe('classificationScores', () => {
  test('binary with probabilities matches sklearn', () => {
    // sklearn: rng = np.random.default_rng(11) (after the logLoss draws); yb = rng.integers(0, 2, 16);
    //   pb1 = np.round(rng.random(16), 2); pb = np.stack([1 - pb1, pb1], axis=1); pred = (pb1 >= 0.5)
    //   accuracy_score, balanced_accuracy_score, precision_recall_fscore_support(average=…,
    //   zero_division=0), log_loss(yb, pb, labels=[0, 1]), roc_auc_score(yb, pb1)
    const y = i32([0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 1]);
    const p1 = [0.12, 0.09, 0.56, 0.96, 0.91, 0.7, 0.07, 0.81, 0.68, 0.14, 0.46, 0.05, 0.8, 0.72, 0.8, 0.76];
    const proba = f64(p1.flatMap((p) => [1 - p, p]));
    const pred = i32(p1.map((p) => (p >= 0.5 ? 1 : 0)));
    const s = classificationScores(y, pred, proba, 2);
    assertClose(s.accuracy, 0.5);
    assertClose(s.balancedAccuracy, 0.5833333333333334);
    assertClose(s.precisionMacro, 0.5666666666666667);
    assertClose(s.recallMacro, 0.5833333333333334);
    assertClose(s.f1Macro, 0.49206349206349204);
    assertClose(s.f1Micro, 0.5);
    assertClose(s.f1Weighted, 0.5238095238095238);
    assertClose(s.logLoss!, 1.0257049000840095);
    assertClose(s.rocAuc!, 0.53125);
  });
  test('three classes with probabilities matches sklearn', () => {
    // sklearn, on the tied rocAucOvr case with yp = P.argmax(axis=1):
    //   accuracy 0.16666666666666666, balanced 0.14393939393939395,
    //   macro P/R/F 0.17857142857142858 / 0.14393939393939395 / 0.15906432748538013,
    //   f1 micro 0.16666666666666666, f1 weighted 0.1853801169590643,
    //   log_loss(labels=[0,1,2]) 1.3235911530279543, roc_auc_score(ovr, labels=[0,1,2]) 0.3330691786283892
    const pred = i32([2, 2, 2, 0, 0, 1, 0, 1, 1, 0, 1, 2, 0, 2, 0, 1, 2, 1, 1, 0, 1, 2, 1, 0]);
    const s = classificationScores(tiedTrue, pred, tiedProba, 3);
    assertClose(s.accuracy, 0.16666666666666666);
    assertClose(s.balancedAccuracy, 0.14393939393939395);
    assertClose(s.precisionMacro, 0.17857142857142858);
    assertClose(s.recallMacro, 0.14393939393939395);
    assertClose(s.f1Macro, 0.15906432748538013);
    assertClose(s.f1Micro, 0.16666666666666666);
    assertClose(s.f1Weighted, 0.1853801169590643);
    assertClose(s.logLoss!, 1.3235911530279543);
    assertClose(s.rocAuc!, 0.3330691786283892);
  });
  test('without probabilities there is no log loss or AUC', () => {
    const s = classificationScores(handTrue, handPred, undefined, 3);
    assert.equal('logLoss' in s, false);
    assert.equal('rocAuc' in s, false);
    assertClose(s.f1Macro, 59 / 90);
  });
  test('a class absent from yTrue omits the AUC instead of throwing', () => {
    const s = classificationScores(i32([0, 1, 0, 1]), i32([0, 1, 1, 1]), ovrProba, 3);
    assert.equal('rocAuc' in s, false);
    assert.equal(typeof s.logLoss, 'number');
  });
});

describe('input checks', () => {
  test('mismatched lengths name both lengths', () => {
    const y5 = i32([0, 1, 0, 1, 0]);
    const y4 = i32([0, 1, 0, 1]);
    const re = /yTrue has 5 samples but yPred has 4/;
    throwsCode(() => accuracy(y5, y4), 'DATA_VALUE', re);
    throwsCode(() => balancedAccuracy(y5, y4, 2), 'DATA_VALUE', re);
    throwsCode(() => confusionMatrix(y5, y4, 2), 'DATA_VALUE', re);
    throwsCode(() => precisionRecallF1(y5, y4, 2, 'macro'), 'DATA_VALUE', re);
    throwsCode(() => precisionRecallF1PerClass(y5, y4, 2), 'DATA_VALUE', re);
    throwsCode(() => classificationScores(y5, y4, undefined, 2), 'DATA_VALUE', re);
    throwsCode(() => rocAuc(y5, f64([1, 2, 3, 4])), 'DATA_VALUE', /yTrue has 5 samples but scores has 4/);
    throwsCode(
      () => logLoss(y5, f64([0.5, 0.5]), 2),
      'DATA_VALUE',
      /proba has 2 values but yTrue has 5 samples/,
    );
  });
  test('empty input is refused', () => {
    const e = new Int32Array(0);
    throwsCode(() => accuracy(e, e), 'DATA_EMPTY', /accuracy: yTrue and yPred are empty/);
    throwsCode(() => rocAuc(e, new Float64Array(0)), 'DATA_EMPTY', /empty/);
    throwsCode(() => rocAucOvr(e, new Float64Array(0), 3), 'DATA_EMPTY', /empty/);
    throwsCode(() => logLoss(e, new Float64Array(0), 2), 'DATA_EMPTY', /empty/);
    throwsCode(() => classificationScores(e, e, undefined, 2), 'DATA_EMPTY', /empty/);
  });
  test('labels outside 0..k-1 and a bad class count are refused', () => {
    throwsCode(
      () => confusionMatrix(i32([0, 1]), i32([0, 3]), 3),
      'DATA_VALUE',
      /confusionMatrix: yPred\[1\] is 3, outside the class range 0\.\.2/,
    );
    throwsCode(() => balancedAccuracy(i32([-1]), i32([0]), 2), 'DATA_VALUE', /yTrue\[0\] is -1/);
    throwsCode(() => confusionMatrix(i32([0]), i32([0]), 0), 'PARAM_INVALID', /nClasses is 0/);
  });
});
