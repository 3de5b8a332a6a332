"""One timed pandas.read_csv of a file, in a fresh process; prints one JSON line like csv-read-child.ts."""
import json
import sys
import time


def rss():
    with open('/proc/self/status') as f:
        fields = dict(line.split(':', 1) for line in f)
    kb = lambda k: int(fields[k].split()[0]) * 1024
    return kb('VmRSS'), kb('VmHWM')


import pandas as pd  # noqa: E402  (imported before the baseline reading on purpose)

path = sys.argv[1]
base, _ = rss()
t = time.perf_counter()
df = pd.read_csv(path)
seconds = time.perf_counter() - t
_, peak = rss()
print(json.dumps({
    'seconds': seconds, 'rows': len(df), 'columns': df.shape[1],
    'arrayBytes': int(df.memory_usage(index=False).sum()), 'baseRss': base, 'peakRss': peak,
    'version': pd.__version__,
}))
