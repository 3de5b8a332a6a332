"""The scikit-learn side of `npm run bench -- linear`: loads a CSV, holds out its last rows, and
times only `.fit()` of the linear models named on the command line. Prints one JSON object.

    /usr/bin/python3 bench/linear_sklearn.py FILE --target COL --models logistic,svc-primal,svc-dual
        [--test-fraction 0.2] [--cache]

The CSV is parsed with pandas' `float_precision='round_trip'`, so every value is the double that
distml's reader produces (the CSV holds shortest round-trip decimals). With `--cache` the parsed
array is kept next to the CSV as FILE.npy (plus FILE.columns.json) and reused while it is newer
than the CSV; loading is never part of a timed figure either way.

Classifiers are fitted on StandardScaler-transformed rows (fitted on the training rows), as
distml's logistic-regression and linear-svc standardize by default; the scaler's time is reported
apart from the fit. LinearRegression gets the raw features, as distml's linear-regression does.
"""
import argparse
import json
import os
import platform
import sys
import time
import warnings


def load(path, cache):
    import numpy as np
    npy, cols_path = path + '.npy', path + '.columns.json'
    started = time.perf_counter()
    if cache and os.path.exists(npy) and os.path.exists(cols_path) and \
            os.path.getmtime(npy) > os.path.getmtime(path):
        with open(cols_path) as f:
            columns = json.load(f)
        data = np.load(npy)
        return data, columns, time.perf_counter() - started, True
    import pandas as pd
    df = pd.read_csv(path, float_precision='round_trip', dtype='float64')
    columns = list(df.columns)
    data = np.ascontiguousarray(df.to_numpy(dtype='float64'))
    del df
    seconds = time.perf_counter() - started
    if cache:
        np.save(npy + '.tmp.npy', data)
        os.replace(npy + '.tmp.npy', npy)
        with open(cols_path, 'w') as f:
            json.dump(columns, f)
    return data, columns, seconds, False


def thread_info():
    """What the BLAS and OpenMP runtimes loaded by numpy/scipy/sklearn will use."""
    try:
        from threadpoolctl import threadpool_info
        pools = [
            {k: p.get(k) for k in ('user_api', 'internal_api', 'num_threads', 'version', 'threading_layer')}
            for p in threadpool_info()
        ]
    except ImportError:
        pools = 'threadpoolctl not installed'
    env = {k: os.environ[k] for k in ('OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS')
           if k in os.environ}
    return {'cpuCount': os.cpu_count(), 'pools': pools, 'env': env}


def timed_fit(estimator, X, y):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        started = time.perf_counter()
        estimator.fit(X, y)
        seconds = time.perf_counter() - started
    return seconds, sorted({f'{w.category.__name__}: {w.message}' for w in caught})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('file')
    ap.add_argument('--target', required=True)
    ap.add_argument('--models', required=True)
    ap.add_argument('--test-fraction', type=float, default=0.2)
    ap.add_argument('--cache', action='store_true')
    args = ap.parse_args()
    models = [m for m in args.models.split(',') if m]

    import numpy as np
    import scipy
    import sklearn
    from sklearn import metrics
    from sklearn.linear_model import LinearRegression, LogisticRegression
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import LinearSVC

    data, columns, load_seconds, from_cache = load(args.file, args.cache)
    target = columns.index(args.target)
    features = [j for j in range(len(columns)) if j != target]
    rows = data.shape[0]
    n_test = int(round(rows * args.test_fraction))  # distml's tail split: the last rows
    n_train = rows - n_test
    # C-contiguous copies made before any timing, so no fit pays for a strided view.
    X_train = np.ascontiguousarray(data[:n_train][:, features])
    X_test = np.ascontiguousarray(data[n_train:][:, features])
    y_train = data[:n_train, target].copy()
    y_test = data[n_train:, target].copy()
    del data

    out = {
        'file': args.file,
        'rows': rows, 'features': len(features), 'trainRows': n_train, 'testRows': n_test,
        'loadSeconds': load_seconds, 'loadedFromCache': from_cache,
        'versions': {
            'python': platform.python_version(), 'sklearn': sklearn.__version__,
            'numpy': np.__version__, 'scipy': scipy.__version__,
        },
        'threads': thread_info(),
        'fits': [],
    }

    scaled = None
    if any(m != 'linreg' for m in models):
        y_train = y_train.astype(np.int64)
        y_test = y_test.astype(np.int64)
        started = time.perf_counter()
        scaler = StandardScaler().fit(X_train)
        Xs_train = scaler.transform(X_train)
        Xs_test = scaler.transform(X_test)
        out['scalerSeconds'] = time.perf_counter() - started
        scaled = (Xs_train, Xs_test)

    for m in models:
        if m == 'logistic':
            est = LogisticRegression(C=1.0, max_iter=100, tol=1e-4, solver='lbfgs')
            settings = 'LogisticRegression(C=1.0, solver="lbfgs", max_iter=100, tol=1e-4)'
        elif m == 'logistic-scaled-tol':
            # scikit-learn 1.2's lbfgs minimises Σ log-loss + ‖w‖²/(2C), distml the same divided by
            # n_train; tol bounds the largest gradient component of each. tol·n_train here is
            # distml's stopping rule (same optimum, same test), for an equal-work comparison.
            tol = 1e-4 * n_train
            est = LogisticRegression(C=1.0, max_iter=100, tol=tol, solver='lbfgs')
            settings = f'LogisticRegression(C=1.0, solver="lbfgs", max_iter=100, tol={tol:g})'
        elif m == 'svc-dual':
            est = LinearSVC(C=1.0, dual=True)
            settings = 'LinearSVC(C=1.0, dual=True)  # defaults: squared_hinge, tol=1e-4, max_iter=1000'
        elif m == 'svc-primal':
            est = LinearSVC(C=1.0, dual=False)
            settings = 'LinearSVC(C=1.0, dual=False)  # defaults: squared_hinge, tol=1e-4, max_iter=1000'
        elif m == 'linreg':
            est = LinearRegression()
            settings = 'LinearRegression()'
        else:
            sys.exit(f'unknown model {m!r}')
        Xtr, Xte = scaled if m != 'linreg' else (X_train, X_test)
        seconds, caught = timed_fit(est, Xtr, y_train)
        n_iter = getattr(est, 'n_iter_', None)
        if n_iter is not None:
            n_iter = int(np.max(n_iter))
        if m == 'linreg':
            pred = est.predict(Xte)
            scores = {
                'r2': metrics.r2_score(y_test, pred),
                'rmse': float(np.sqrt(metrics.mean_squared_error(y_test, pred))),
                'mae': metrics.mean_absolute_error(y_test, pred),
            }
        else:
            pred = est.predict(Xte)
            scores = {'accuracy': metrics.accuracy_score(y_test, pred)}
            if m.startswith('logistic'):
                proba = est.predict_proba(Xte)
                scores['logLoss'] = metrics.log_loss(y_test, proba)
                scores['rocAuc'] = metrics.roc_auc_score(y_test, proba[:, 1])
        out['fits'].append({
            'model': m, 'settings': settings, 'fitSeconds': seconds, 'nIter': n_iter,
            'warnings': caught, 'metrics': {k: float(v) for k, v in scores.items()},
        })
        print(f'  sklearn {m}: fit {seconds:.2f}s' + ('' if n_iter is None else f', n_iter_ {n_iter}'),
              file=sys.stderr, flush=True)

    print(json.dumps(out))


if __name__ == '__main__':
    main()
