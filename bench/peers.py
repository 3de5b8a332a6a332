"""The Python side of `npm run bench`: scikit-learn and XGBoost on the suite's CSV files.

    /usr/bin/python3 bench/peers.py fit FILE --target COL --task logistic|svc|lsq|sgd --system sklearn|xgboost
        [--runs K] [--test-fraction 0.2] [--max-iter 100] [--tol 1e-4] [--C 1] [--epochs 5]
    /usr/bin/python3 bench/peers.py small FILE --target COL     # read + fit + score, as one process

`fit` prints one JSON object: median-able lists of fit and predict seconds, the iterations, the
test score, and the process's peak resident set. Loading is never timed: the CSV is parsed once
(pandas, `float_precision='round_trip'`, so every value is the double distml reads) and kept as
FILE.npy beside it. The split is distml's `--split tail`: the last round(rows·f) rows are the
test set. Classifiers see features standardized with the training rows' mean and standard
deviation, as distml's do by default; least squares sees the raw features, as distml's does.
"""
import argparse
import json
import os
import sys
import time
import warnings


def peak_rss():
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith('VmHWM:'):
                return int(line.split()[1]) * 1024
    return None


def load(path):
    import numpy as np
    npy, cols_path = path + '.npy', path + '.columns.json'
    if os.path.exists(npy) and os.path.exists(cols_path) and os.path.getmtime(npy) > os.path.getmtime(path):
        with open(cols_path) as f:
            return np.load(npy), json.load(f)
    import pandas as pd
    df = pd.read_csv(path, float_precision='round_trip', dtype='float64')
    columns = list(df.columns)
    data = np.ascontiguousarray(df.to_numpy(dtype='float64'))
    del df
    np.save(npy + '.partial.npy', data)
    os.replace(npy + '.partial.npy', npy)
    with open(cols_path, 'w') as f:
        json.dump(columns, f)
    return data, columns


def split(data, columns, target, test_fraction):
    import numpy as np
    t = columns.index(target)
    features = [j for j in range(len(columns)) if j != t]
    n_test = int(round(data.shape[0] * test_fraction))
    n_train = data.shape[0] - n_test
    X_train = np.ascontiguousarray(data[:n_train][:, features])
    X_test = np.ascontiguousarray(data[n_train:][:, features])
    return X_train, X_test, data[:n_train, t].copy(), data[n_train:, t].copy()


def estimator(args, n_train):
    """The peer's estimator for the task, given its best settings for the comparison."""
    task, system = args.task, args.system
    if system == 'sklearn':
        from sklearn.linear_model import LinearRegression, LogisticRegression, SGDClassifier
        from sklearn.svm import LinearSVC
        if task == 'logistic':
            # distml minimises the same objective divided by n_train, and its tol bounds that
            # objective's gradient: tol·n_train is the same stopping rule for scikit-learn.
            tol = args.tol * n_train
            return (LogisticRegression(C=args.C, solver='lbfgs', max_iter=args.max_iter, tol=tol),
                    f'lbfgs, C={args.C:g}, max_iter={args.max_iter}, tol={tol:g} (= {args.tol:g}·n)')
        if task == 'svc':
            # dual=False (primal trust-region Newton) is liblinear's fast path when rows ≫ features.
            return (LinearSVC(C=args.C, dual=False, tol=args.tol, max_iter=1000),
                    f'liblinear primal (dual=False), squared hinge, C={args.C:g}, tol={args.tol:g}')
        if task == 'lsq':
            return LinearRegression(), 'LinearRegression() (scipy lstsq)'
        if task == 'sgd':
            return (SGDClassifier(loss='log_loss', max_iter=args.epochs, tol=None, random_state=0),
                    f"SGDClassifier(loss='log_loss', max_iter={args.epochs}, tol=None)")
    if system == 'sklearn-newton' and task == 'logistic':
        from sklearn.linear_model import LogisticRegression
        # scikit-learn 1.2's advice for n_samples >> n_features. It minimises the mean loss, as
        # distml does, so tol means the same for both without scaling.
        return (LogisticRegression(C=args.C, solver='newton-cholesky', max_iter=args.max_iter, tol=args.tol),
                f'newton-cholesky, C={args.C:g}, max_iter={args.max_iter}, tol={args.tol:g}')
    if system == 'sklearn-cholesky' and task == 'lsq':
        from sklearn.linear_model import Ridge
        # distml's own method: the normal equations solved by Cholesky. A vanishing alpha keeps the
        # answer that of least squares while letting Ridge take its Cholesky path.
        return (Ridge(alpha=1e-10, solver='cholesky'), "Ridge(alpha=1e-10, solver='cholesky'): normal equations")
    if system == 'xgboost':
        import xgboost as xgb
        common = dict(booster='gblinear', n_estimators=args.max_iter, learning_rate=0.5, reg_lambda=0.0,
                      reg_alpha=0.0, updater='shotgun', n_jobs=os.cpu_count())
        if task == 'logistic':
            return (xgb.XGBClassifier(objective='binary:logistic', **common),
                    f'gblinear (shotgun coordinate descent), {args.max_iter} rounds, eta 0.5, no penalty')
        if task == 'lsq':
            return (xgb.XGBRegressor(objective='reg:squarederror', **common),
                    f'gblinear (shotgun coordinate descent), {args.max_iter} rounds, eta 0.5, no penalty')
    sys.exit(f'peers.py: no {system} estimator for task {task!r}')


def iterations(est, system):
    import numpy as np
    if system == 'xgboost':
        return est.n_estimators
    n = getattr(est, 'n_iter_', None)
    return None if n is None else int(np.max(n))


def fit(args):
    import numpy as np
    from sklearn import metrics
    data, columns = load(args.file)
    X_train, X_test, y_train, y_test = split(data, columns, args.target, args.test_fraction)
    del data
    # distml standardizes the features inside its fit (it learns the scales, then encodes with
    # them), so the peers do too, as a StandardScaler + estimator pipeline would: learning the
    # scaler and transforming the training rows count in the fit time, transforming the test rows
    # in the predict time. The scaler's share is reported on its own.
    scale = args.task != 'lsq'
    if scale:
        from sklearn.preprocessing import StandardScaler
        y_train, y_test = y_train.astype(np.int64), y_test.astype(np.int64)
    fits, scales, predicts, scores, caught_all, n_iter, settings = [], [], [], [], set(), None, ''
    for _ in range(args.runs):
        est, settings = estimator(args, X_train.shape[0])
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter('always')
            started = time.perf_counter()
            scaler = StandardScaler().fit(X_train) if scale else None
            X_fit = scaler.transform(X_train) if scale else X_train
            scales.append(time.perf_counter() - started)
            est.fit(X_fit, y_train)
            fits.append(time.perf_counter() - started)
            del X_fit
            started = time.perf_counter()
            pred = est.predict(scaler.transform(X_test) if scale else X_test)
            predicts.append(time.perf_counter() - started)
        caught_all |= {f'{w.category.__name__}: {str(w.message).splitlines()[0]}' for w in caught}
        n_iter = iterations(est, args.system)
        scores.append(metrics.r2_score(y_test, pred) if args.task == 'lsq'
                      else metrics.accuracy_score(y_test, pred))
        print(f'    {args.system} {args.task}: fit {fits[-1]:.2f}s', file=sys.stderr, flush=True)
        if fits[-1] > args.once_over:
            break  # a fit this long is not repeated: its single figure stands
    print(json.dumps({'fitSeconds': fits, 'scaleSeconds': scales if scale else [],
                      'predictSeconds': predicts, 'scores': [float(s) for s in scores],
                      'iterations': n_iter, 'settings': settings, 'warnings': sorted(caught_all),
                      'peakRssBytes': peak_rss()}))


def small(args):
    """What a user's script does: import, read, split, standardize, fit, score; timed from outside."""
    started = time.perf_counter()
    import pandas as pd
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score
    from sklearn.preprocessing import StandardScaler
    df = pd.read_csv(args.file)
    n_test = int(round(len(df) * args.test_fraction))
    train, test = df.iloc[:-n_test], df.iloc[-n_test:]
    X_train, y_train = train.drop(columns=[args.target]).to_numpy(), train[args.target].to_numpy()
    X_test, y_test = test.drop(columns=[args.target]).to_numpy(), test[args.target].to_numpy()
    scaler = StandardScaler().fit(X_train)
    fit_started = time.perf_counter()
    est = LogisticRegression(C=args.C, max_iter=args.max_iter).fit(scaler.transform(X_train), y_train)
    fit_seconds = time.perf_counter() - fit_started
    score = accuracy_score(y_test, est.predict(scaler.transform(X_test)))
    print(json.dumps({'fitSeconds': fit_seconds, 'score': float(score), 'iterations': int(max(est.n_iter_)),
                      'insideSeconds': time.perf_counter() - started}))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('mode', choices=['fit', 'small'])
    ap.add_argument('file')
    ap.add_argument('--target', required=True)
    ap.add_argument('--task', choices=['logistic', 'svc', 'lsq', 'sgd'], default='logistic')
    ap.add_argument('--system', choices=['sklearn', 'sklearn-newton', 'sklearn-cholesky', 'xgboost'], default='sklearn')
    ap.add_argument('--runs', type=int, default=3)
    ap.add_argument('--test-fraction', type=float, default=0.2)
    ap.add_argument('--max-iter', type=int, default=100)
    ap.add_argument('--tol', type=float, default=1e-4)
    ap.add_argument('--C', type=float, default=1.0)
    ap.add_argument('--epochs', type=int, default=5)
    ap.add_argument('--once-over', type=float, default=60.0)
    args = ap.parse_args()
    fit(args) if args.mode == 'fit' else small(args)


if __name__ == '__main__':
    main()
