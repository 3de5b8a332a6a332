/**
 * `distml train --workers N` end to end: faults injected from the command line, and a driver
 * killed mid-fit that `--resume` continues from its last checkpoint.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ROOT, runCli } from '../helpers/cli.ts';
import { LOGISTIC_ON_6 } from '../helpers/redis-server.ts';

let dir = '';
let data = '';
let big = '';
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'distml-engine-'));
  data = join(dir, 'clf.csv');
  big = join(dir, 'big.csv');
  // 30,000 × 10: above the small-data threshold, so the worker threads really run.
  const g = await runCli([
    'generate',
    'classification',
    '--rows',
    '30000',
    '--features',
    '10',
    '--seed',
    '9',
    '--out',
    data,
  ]);
  assert.equal(g.code, 0, g.stderr);
  const h = await runCli([
    'generate',
    'classification',
    '--rows',
    '300000',
    '--features',
    '20',
    '--seed',
    '9',
    '--out',
    big,
  ]);
  assert.equal(h.code, 0, h.stderr);
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

interface Report {
  metrics: Record<string, number>;
  engine: {
    kind: string;
    workers: number;
    workerRestarts: number;
    retries: number;
    speculativeCopies: number;
    tasks: number;
    passes: number;
  };
  fit: { iterations: number; resumedFrom?: number };
}

async function trainReport(name: string, extra: string[]): Promise<{ report: Report; stderr: string }> {
  const path = join(dir, `${name}.json`);
  const r = await runCli([
    'train',
    data,
    '--target',
    'label',
    '--model',
    'logistic-regression',
    '--partitions',
    '4',
    '--report',
    path,
    ...extra,
  ]);
  assert.equal(r.code, 0, r.stderr);
  return { report: JSON.parse(await readFile(path, 'utf8')) as Report, stderr: r.stderr };
}

test('--workers 2 with a worker killed mid-fit gives the fault-free model', async () => {
  const clean = await trainReport('clean', ['--workers', '2']);
  const faulty = await trainReport('faulty', ['--workers', '2', '--inject-fault', 'kill:worker=1,task=3']);
  assert.deepStrictEqual(faulty.report.metrics, clean.report.metrics);
  assert.equal(faulty.report.engine.kind, 'local');
  assert.equal(faulty.report.engine.workers, 2);
  assert.equal(faulty.report.engine.workerRestarts, 1);
  // The lost task was retried, or (on a loaded machine) a speculative copy already running won.
  assert.ok(faulty.report.engine.retries + faulty.report.engine.speculativeCopies >= 1);
  assert.equal(faulty.report.engine.tasks, faulty.report.engine.passes * 4);
  const serial = await trainReport('serial', ['--workers', '0']);
  assert.deepStrictEqual(serial.report.metrics, clean.report.metrics);
  assert.equal(serial.report.engine.kind, 'inline');
});

test('bad fault specs and --resume without a directory are usage errors', async () => {
  const a = await runCli([
    'train',
    data,
    '--target',
    'label',
    '--model',
    'logistic-regression',
    '--inject-fault',
    'boom',
  ]);
  assert.equal(a.code, 2);
  assert.match(a.stderr, /--inject-fault 'boom': unknown kind 'boom'/);
  const b = await runCli(['train', data, '--target', 'label', '--model', 'logistic-regression', '--resume']);
  assert.equal(b.code, 2);
  assert.match(b.stderr, /--resume needs --checkpoint-dir/);
});

test('a driver killed mid-fit resumes from its last checkpoint and reaches the same model', async () => {
  const checkpoints = join(dir, 'ckpt');
  const args = [
    'train',
    big,
    '--target',
    'label',
    '--model',
    'logistic-regression',
    '--param',
    'tol=1e-9',
    '--workers',
    '0',
    '--checkpoint-dir',
    checkpoints,
    '--checkpoint-every',
    '2',
  ];
  // Run until the first checkpoint is on disk, then kill the driver outright.
  const child = spawn(process.execPath, [`${ROOT}bin/distml.js`, ...args], { stdio: 'ignore' });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  for (let waited = 0; !existsSync(join(checkpoints, 'manifest.json')) && waited < 60_000; waited += 10) {
    await new Promise((r) => setTimeout(r, 10));
  }
  child.kill('SIGKILL');
  assert.equal(await exited, null, 'the driver was killed before it finished');

  const resumed = await runCli([...args, '--resume', '--report', join(dir, 'resumed.json')]);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.match(resumed.stderr, /resumed from the checkpoint of iteration \d+/);
  const again = JSON.parse(await readFile(join(dir, 'resumed.json'), 'utf8')) as Report;
  assert.ok((again.fit.resumedFrom ?? 0) >= 2);

  const whole = await runCli([...args.slice(0, 10), '--report', join(dir, 'whole.json')]);
  assert.equal(whole.code, 0, whole.stderr);
  const reference = JSON.parse(await readFile(join(dir, 'whole.json'), 'utf8')) as Report;
  // Both runs approach the same optimum from different L-BFGS histories and stop on its relative
  // function tolerance (about 2.2e-9), which leaves test log losses ~1e-7 apart (measured 1.9e-7).
  assert.equal(again.metrics.accuracy, reference.metrics.accuracy);
  const gap = Math.abs(again.metrics.logLoss! - reference.metrics.logLoss!);
  assert.ok(
    gap < 1e-5,
    `log loss ${again.metrics.logLoss} resumed vs ${reference.metrics.logLoss} uninterrupted`,
  );
});

test('--resume refuses the checkpoints of a run whose --categorical differed, and says what must match', async () => {
  const checkpoints = join(dir, 'ckpt-settings');
  const args = [
    ...LOGISTIC_ON_6,
    '--workers',
    '0',
    '--checkpoint-dir',
    checkpoints,
    '--checkpoint-every',
    '1',
  ];
  const first = await runCli(args);
  assert.equal(first.code, 0, first.stderr);
  assert.ok(existsSync(join(checkpoints, 'manifest.json')));

  const other = await runCli([...args, '--categorical', 'mean_radius', '--resume']);
  assert.equal(other.code, 1, other.stderr);
  assert.match(
    other.stderr,
    /checkpoint manifest .*manifest\.json is from another run \(written by run '([0-9a-f]{16})', this is run '(?!\1)[0-9a-f]{16}'\) \(.*--categorical.*must be those of the run that wrote them; rerun with the same settings, or give another --checkpoint-dir\)/,
  );

  // The same settings resume: the refusal came from --categorical, not from the directory.
  const same = await runCli([...args, '--resume']);
  assert.equal(same.code, 0, same.stderr);
  assert.match(same.stderr, /resumed from the checkpoint of iteration \d+/);
});
