import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SHARED_DATA_HINT_BYTES, sharedDataHint } from './train-shared.ts';

test('a large CSV or Parquet file read on the driver of a cluster gets a note on --shared-data', () => {
  const big = SHARED_DATA_HINT_BYTES;
  const cluster = { cluster: 'redis://127.0.0.1:6379' };
  assert.equal(
    sharedDataHint('/data/big.csv', 983_565_332, cluster),
    'note: /data/big.csv is 938 MiB, read here and sent to the workers; if every worker can read it under ' +
      'this name (shared storage, or an http(s) URL), --shared-data lets them read their own parts instead, ' +
      'which scales with the workers (see docs/cluster.md)',
  );
  assert.match(
    sharedDataHint('/data/big.parquet', big, cluster) ?? '',
    /^note: \/data\/big\.parquet is 256 MiB/,
  );
  // Nothing to suggest: small files, the thread engine, --shared-data already, formats it cannot split.
  assert.equal(sharedDataHint('/data/big.csv', big - 1, cluster), undefined);
  assert.equal(sharedDataHint('/data/big.csv', big, {}), undefined);
  assert.equal(sharedDataHint('/data/big.csv', big, { ...cluster, sharedData: true }), undefined);
  assert.equal(sharedDataHint('/data/big.jsonl', big, cluster), undefined);
  assert.equal(sharedDataHint('/data/big.arrow', big, cluster), undefined);
});
