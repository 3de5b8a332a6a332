/**
 * A data file rewritten between two `--shared-data` fits, at the same byte size, against the same
 * long-running workers: the second fit must train on the new rows. A worker keeps the rows it
 * profiled for the build that usually follows on the same worker; a split names the same file,
 * byte range and size after the rewrite, so rows kept from the first fit must never be served to
 * the second (here: a worker that profiled both splits in a first fit that stopped after its
 * profile pass takes over a split whose owner died in the second fit).
 */
import assert from 'node:assert/strict';
import { stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { Rng } from '../../src/data/random.ts';
import { readModelFile } from '../../src/io/model-file.ts';
import { runCli } from '../helpers/cli.ts';
import { partitionsLoaded, startWorker, useCluster } from '../helpers/redis-server.ts';

const fx = useCluster('distml-cluster-source-rewrite-');

/**
 * 400 rows of `x1,x2,x3,w,y` with fixed-width values, so that two versions have the same size:
 * x in [0, 1), y = a linear function of x in [0, 10), every weight `weight`.
 */
function table(seed: number, coef: readonly [number, number, number, number], weight: 0 | 1): string {
  const rng = new Rng(seed);
  const lines = ['x1,x2,x3,w,y'];
  for (let i = 0; i < 400; i++) {
    const x = [rng.next(), rng.next(), rng.next()];
    const y = coef[0] + coef[1] * x[0]! + coef[2] * x[1]! + coef[3] * x[2]! + 0.1 * rng.next();
    lines.push(`${x.map((v) => v.toFixed(6)).join(',')},${weight},${y.toFixed(6)}`);
  }
  return `${lines.join('\n')}\n`;
}

async function coefficients(model: string): Promise<number[]> {
  const file = await readModelFile(model);
  return [...file.tensors.coef!.data, ...file.tensors.intercept!.data];
}

test('a file rewritten at the same size between two fits on the same workers: the second model is the new data’s', async () => {
  const data = join(fx.dir, 'rewritten.csv');
  const before = table(1, [1, 2, -1, 0.5], 0);
  const after = table(2, [4, -1, 2, 1.5], 1);
  assert.equal(Buffer.byteLength(before), Buffer.byteLength(after));
  await writeFile(data, before);
  const fit = (ns: string, extra: readonly string[]) =>
    runCli([
      'train',
      data,
      ...'--target y --model linear-regression --sample-weight w --test-fraction 0 --partitions 2'.split(' '),
      '--shared-data',
      '--cluster',
      fx.redis.url,
      '--namespace',
      ns,
      ...extra,
    ]);

  // First fit, on worker b alone: b profiles both splits, then the driver refuses the all-zero
  // weights before any partition is built, so b still holds both splits' rows.
  const b = await startWorker(fx.redis.url, ['--name', 'b', '--namespace', 'rw']);
  fx.workers.push(b);
  const first = await fit('rw', ['--min-workers', '1']);
  assert.equal(first.code, 1, first.stderr);
  assert.match(first.stderr, /sample weight column 'w' is all zeros/);

  const size = (await stat(data)).size;
  await writeFile(data, after);
  assert.equal((await stat(data)).size, size);

  // Second fit, on a and b: a owns split 0 (sorted by name), profiles it, and dies at its next
  // task; split 0 then goes to b, which must read it from the rewritten file.
  const a = await startWorker(fx.redis.url, [
    '--name',
    'a',
    '--namespace',
    'rw',
    '--lock-ms',
    '1500',
    '--inject-fault',
    'kill:worker=0,task=2',
  ]);
  fx.workers.push(a);
  const model = join(fx.dir, 'second.distml');
  const mark = b.log().length;
  const second = await fit('rw', ['--min-workers', '2', '--save', model]);
  assert.equal(second.code, 0, second.stderr);
  assert.equal(await a.exited, 'SIGKILL');
  assert.match(second.stderr, /partitions of p\d+ re-placed: 0 → b\n/);
  assert.deepStrictEqual(partitionsLoaded(b.log().slice(mark)), [0, 1]);

  // The reference: a fresh cluster that never saw the old file. Same splits, plan and combine
  // order, so bit for bit.
  fx.workers.push(await startWorker(fx.redis.url, ['--name', 'c', '--namespace', 'fresh']));
  const reference = join(fx.dir, 'fresh.distml');
  const fresh = await fit('fresh', ['--min-workers', '1', '--save', reference]);
  assert.equal(fresh.code, 0, fresh.stderr);
  assert.deepStrictEqual(await coefficients(model), await coefficients(reference));
});
