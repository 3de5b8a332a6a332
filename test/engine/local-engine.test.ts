/**
 * The worker-thread engine under faults: real threads, real kills, exact outcomes. Every pass is
 * compared with the serial engine on the same partitioning, which must give the same bits.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { generate } from '../../src/data/generate.ts';
import type { Engine } from '../../src/engine/engine.ts';
import { InlineEngine } from '../../src/engine/inline-engine.ts';
import type { FaultSpec } from '../../src/engine/local/faults.ts';
import { faultAt, parseFault, slowdownAt } from '../../src/engine/local/faults.ts';
import {
  LocalEngine,
  type LocalEngineOptions,
  type LocalTelemetry,
} from '../../src/engine/local/local-engine.ts';
import { NonFiniteResultError, TaskFailedError } from '../../src/errors.ts';
import '../../src/models/kernels.ts';
import { LOGISTIC_LOSS_GRADIENT } from '../../src/models/linear/logistic.kernels.ts';
import { WORKER_ENTRY } from '../../src/pipeline/engines.ts';
import { train } from '../../src/pipeline/train.ts';

/** 30,000 × 10 = 300,000 elements: above the small-data threshold, so it runs on the workers. */
const frame = generate('classification', { rows: 30_000, features: 10, seed: 4 });
const d = 10;
const X = new Float64Array(30_000 * d);
for (let j = 0; j < d; j++) {
  const c = frame.column(`x${j}`);
  assert.ok(c.kind === 'number');
  for (let i = 0; i < 30_000; i++) X[i * d + j] = c.values[i]!;
}
const labels = frame.column('label');
assert.ok(labels.kind === 'number');
const matrix = { rows: 30_000, cols: d, X, y: labels.values };
const coef = Float64Array.from({ length: d + 1 }, (_, j) => (j - 5) / 20);
const ARGS = { coef, rowsOfCoef: 1 };

const engines: Engine[] = [];
after(async () => {
  await Promise.all(engines.map((e) => e.close()));
});

function local(options: Partial<LocalEngineOptions> & { faults?: FaultSpec[] } = {}): LocalEngine {
  const engine = new LocalEngine({ workers: 2, entry: WORKER_ENTRY, ...options });
  engines.push(engine);
  return engine;
}

async function inlineSum(partitions: number): Promise<Float64Array> {
  const inline = new InlineEngine();
  const placed = await inline.distribute(matrix, { partitions });
  return inline.treeReduce(LOGISTIC_LOSS_GRADIENT, placed, ARGS);
}

describe('LocalEngine', () => {
  test('a pass gives the same bits as the serial engine on the same partitions', async () => {
    const engine = local();
    const placed = await engine.distribute(matrix, { partitions: 6 });
    const got = await engine.treeReduce(LOGISTIC_LOSS_GRADIENT, placed, ARGS);
    assert.deepStrictEqual(got, await inlineSum(6));
    const t = engine.telemetry();
    assert.equal(t.tasks, 6);
    assert.equal(t.passes, 1);
    assert.equal(t.inlineReason, undefined);
    assert.equal(
      t.perWorker.reduce((n, w) => n + w.tasks, 0),
      6,
    );
  });

  test('a worker killed mid-fit: same model, every partition applied once, one retry, one restart', async () => {
    const options = { target: 'label', model: 'logistic-regression', partitions: 4 } as const;
    const clean = local();
    const reference = await train(frame, { ...options, engine: clean });
    // No speculation: under load a backup copy of the doomed task could win, and no retry would
    // be needed; this test pins the retry path.
    const faulty = local({ faults: [parseFault('kill:worker=1,task=5')], speculationMultiplier: 1e9 });
    const model = await train(frame, { ...options, engine: faulty });
    assert.deepStrictEqual(model.fitted.tensors(), reference.fitted.tensors());
    const t = faulty.telemetry() as LocalTelemetry;
    assert.equal(t.workerRestarts, 1);
    assert.equal(t.retries, 1);
    assert.equal(t.lateResultsDiscarded, 0);
    // Exactly one applied result per partition per pass.
    assert.equal(t.tasks, t.passes * 4);
    assert.equal(t.tasks, (clean.telemetry() as LocalTelemetry).tasks);
  });

  test('a straggler gets a backup copy that wins; the late result is discarded by attempt id', async () => {
    const engine = local({
      faults: [{ kind: 'delay', worker: 0, task: 2, ms: 1500 }],
      speculationMinMs: 50,
      speculationMultiplier: 3,
    });
    const placed = await engine.distribute(matrix, { partitions: 2 });
    const expected = await inlineSum(2);
    assert.deepStrictEqual(await engine.treeReduce(LOGISTIC_LOSS_GRADIENT, placed, ARGS), expected);
    // Pass 2: worker 0 stalls on its partition; worker 1 finishes, idles, and runs the backup.
    assert.deepStrictEqual(await engine.treeReduce(LOGISTIC_LOSS_GRADIENT, placed, ARGS), expected);
    let t = engine.telemetry() as LocalTelemetry;
    assert.equal(t.speculativeCopies, 1);
    assert.equal(t.speculativeWins, 1);
    // Pass 3 runs while worker 0 still sleeps (worker 1 steals its partition).
    assert.deepStrictEqual(await engine.treeReduce(LOGISTIC_LOSS_GRADIENT, placed, ARGS), expected);
    // Worker 0's stale answer arrives once its sleep ends; it must be discarded, not applied.
    for (
      let waited = 0;
      (engine.telemetry() as LocalTelemetry).lateResultsDiscarded === 0 && waited < 10_000;
      waited += 20
    ) {
      await new Promise((r) => setTimeout(r, 20));
    }
    t = engine.telemetry() as LocalTelemetry;
    assert.equal(t.lateResultsDiscarded, 1);
    assert.equal(t.tasks, 6);
    assert.equal(t.retries, 0);
  });

  test('a NaN result stops the pass before it is applied, naming task and partition; the engine goes on', async () => {
    const engine = local({ faults: [{ kind: 'nan', worker: 1, task: 1 }] });
    const placed = await engine.distribute(matrix, { partitions: 2 });
    await assert.rejects(engine.treeReduce(LOGISTIC_LOSS_GRADIENT, placed, ARGS), (err: Error) => {
      assert.ok(err instanceof NonFiniteResultError);
      assert.match(
        err.message,
        /^task 1:1 \(kernel 'logistic\.lossGradient', partition 1, worker 1\) returned NaN at index 0/,
      );
      return true;
    });
    assert.deepStrictEqual(await engine.treeReduce(LOGISTIC_LOSS_GRADIENT, placed, ARGS), await inlineSum(2));
  });

  test('a kernel that throws once is retried on another worker', async () => {
    const engine = local({ faults: [{ kind: 'throw', worker: 0, task: 1 }] });
    const placed = await engine.distribute(matrix, { partitions: 2 });
    assert.deepStrictEqual(await engine.treeReduce(LOGISTIC_LOSS_GRADIENT, placed, ARGS), await inlineSum(2));
    const t = engine.telemetry() as LocalTelemetry;
    assert.equal(t.retries, 1);
    assert.equal(t.workerRestarts, 0);
  });

  test('a task failing on every attempt fails the pass with the task, worker and cause', async () => {
    const engine = local({
      maxAttempts: 3,
      faults: [
        { kind: 'throw', worker: 0, task: 1 },
        { kind: 'throw', worker: 1, task: 1 },
        { kind: 'throw', worker: 0, task: 2 },
      ],
    });
    const placed = await engine.distribute(matrix, { partitions: 1 });
    await assert.rejects(engine.treeReduce(LOGISTIC_LOSS_GRADIENT, placed, ARGS), (err: Error) => {
      assert.ok(err instanceof TaskFailedError);
      assert.match(
        err.message,
        /task 1:0 \(kernel 'logistic\.lossGradient', partition 0\) failed 3 time\(s\); last on worker 0: kernel 'logistic\.lossGradient' threw: injected fault: throw at task 2 of worker 0/,
      );
      return true;
    });
    assert.equal((engine.telemetry() as LocalTelemetry).retries, 2);
  });

  test('a task past its timeout is abandoned: its worker is replaced and the task reruns elsewhere', async () => {
    const engine = local({
      taskTimeoutMs: 300,
      speculationMultiplier: 1e9,
      faults: [{ kind: 'delay', worker: 1, task: 1, ms: 60_000 }],
    });
    const placed = await engine.distribute(matrix, { partitions: 2 });
    assert.deepStrictEqual(await engine.treeReduce(LOGISTIC_LOSS_GRADIENT, placed, ARGS), await inlineSum(2));
    const t = engine.telemetry() as LocalTelemetry;
    assert.equal(t.workerRestarts, 1);
    assert.equal(t.retries, 1);
  });

  test('small data stays on the calling thread and the telemetry says why', async () => {
    const engine = local();
    const small = { rows: 100, cols: d, X: X.subarray(0, 100 * d), y: labels.values.subarray(0, 100) };
    const placed = await engine.distribute(small, { partitions: 2 });
    const inline = new InlineEngine();
    const expected = await inline.treeReduce(
      LOGISTIC_LOSS_GRADIENT,
      await inline.distribute(small, { partitions: 2 }),
      ARGS,
    );
    assert.deepStrictEqual(await engine.treeReduce(LOGISTIC_LOSS_GRADIENT, placed, ARGS), expected);
    const t = engine.telemetry() as LocalTelemetry;
    assert.match(t.inlineReason ?? '', /^small data: 100×10 is below 100000 elements/);
    assert.equal(
      t.perWorker.reduce((n, w) => n + w.tasks, 0),
      0,
    );
  });

  test('workers that cannot start fail with a clear error instead of restarting forever', async () => {
    const engine = local({ entry: new URL('./no-such-entry.js', import.meta.url) });
    await assert.rejects(
      engine.distribute(matrix, { partitions: 2 }),
      /the worker threads cannot start: worker \d failed to start 3 times in a row/,
    );
  });

  test('fault specs parse and bad ones are usage errors', () => {
    assert.deepEqual(parseFault('delay:worker=1,task=4,ms=250'), {
      kind: 'delay',
      worker: 1,
      task: 4,
      ms: 250,
    });
    assert.throws(() => parseFault('explode:worker=1,task=1'), /unknown kind 'explode'/);
    assert.throws(() => parseFault('kill:worker=1'), /needs worker=K and task=T/);
    assert.throws(() => parseFault('delay:worker=0,task=1'), /needs ms=M/);
    assert.throws(() => parseFault('slow:worker=0,task=1'), /needs ms=M/);
    // `slow` adds its delay to every task from the T-th on, and is no one-off fault.
    const slow = [parseFault('slow:worker=0,task=3,ms=40'), parseFault('nan:worker=0,task=3')];
    assert.deepEqual(
      [1, 2, 3, 4, 9].map((n) => slowdownAt(slow, n)),
      [0, 0, 40, 40, 40],
    );
    assert.equal(faultAt(slow, 3)?.kind, 'nan');
    assert.equal(faultAt(slow, 4), undefined);
  });
});

describe('task DAGs', () => {
  test('dependencies run first, priorities order ready tasks, failures travel down the DAG', async () => {
    // a and c run on worker 0 (tasks 1, 2), b on worker 1 (task 1). Task d then fails on worker 0
    // (its task 3), on worker 1 (task 2) and on worker 0 again (task 4): three attempts, all thrown.
    const engine = local({
      faults: [
        { kind: 'throw', worker: 0, task: 3 },
        { kind: 'throw', worker: 1, task: 2 },
        { kind: 'throw', worker: 0, task: 4 },
      ],
    });
    const placed = await engine.distribute(matrix, { partitions: 3 });
    const finished: number[] = [];
    const track = (h: { id: number; result: Promise<Float64Array> }) => {
      h.result.then(
        () => finished.push(h.id),
        () => {},
      );
      return h;
    };
    const a = track(engine.submit({ kernel: LOGISTIC_LOSS_GRADIENT, on: placed, partition: 0, args: ARGS }));
    const b = track(engine.submit({ kernel: LOGISTIC_LOSS_GRADIENT, on: placed, partition: 1, args: ARGS }));
    const c = track(
      engine.submit({ kernel: LOGISTIC_LOSS_GRADIENT, on: placed, partition: 2, args: ARGS, after: [a, b] }),
    );
    const [ra, rb, rc] = await Promise.all([a.result, b.result, c.result]);
    // Each task's result is its partition's kernel output, exactly as the serial engine computes it.
    const inline = new InlineEngine();
    const iplaced = await inline.distribute(matrix, { partitions: 3 });
    for (const [p, r] of [ra, rb, rc].entries()) {
      assert.deepStrictEqual(
        r,
        await inline.submit({ kernel: LOGISTIC_LOSS_GRADIENT, on: iplaced, partition: p, args: ARGS }).result,
      );
    }
    assert.equal(finished.indexOf(c.id), 2, 'the dependant finished last');
    // The next task fails on every attempt (three injected throws); its dependant never runs.
    const d = engine.submit({ kernel: LOGISTIC_LOSS_GRADIENT, on: placed, partition: 0, args: ARGS });
    const e = engine.submit({
      kernel: LOGISTIC_LOSS_GRADIENT,
      on: placed,
      partition: 1,
      args: ARGS,
      after: [d],
    });
    await assert.rejects(d.result, TaskFailedError);
    await assert.rejects(
      e.result,
      new RegExp(`task ${e.id} did not run: its dependency, task ${d.id}, failed`),
    );
    const tasksBefore = engine.telemetry().tasks;
    assert.equal(tasksBefore, 3, 'only the three successful tasks were applied');
  });

  test('a higher-priority ready task runs before lower ones queued earlier', async () => {
    const engine = local({ workers: 1 });
    const placed = await engine.distribute(matrix, { partitions: 4 });
    const order: string[] = [];
    // Occupy the single worker, then queue a low- and a high-priority task behind it.
    const first = engine.submit({ kernel: LOGISTIC_LOSS_GRADIENT, on: placed, partition: 0, args: ARGS });
    await new Promise((r) => setImmediate(r));
    const low = engine.submit({
      kernel: LOGISTIC_LOSS_GRADIENT,
      on: placed,
      partition: 1,
      args: ARGS,
      priority: 0,
    });
    const high = engine.submit({
      kernel: LOGISTIC_LOSS_GRADIENT,
      on: placed,
      partition: 2,
      args: ARGS,
      priority: 5,
    });
    low.result.then(() => order.push('low'));
    high.result.then(() => order.push('high'));
    await Promise.all([first.result, low.result, high.result]);
    assert.deepEqual(order, ['high', 'low']);
  });
});

describe('broadcast', () => {
  test('a broadcast value reaches every worker once and gives the same results as passing it', async () => {
    const engine = local();
    const placed = await engine.distribute(matrix, { partitions: 4 });
    const handle = await engine.broadcast(coef);
    const viaHandle = await engine.treeReduce(LOGISTIC_LOSS_GRADIENT, placed, {
      coef: handle,
      rowsOfCoef: 1,
    });
    const bytesWithHandle = (engine.telemetry() as LocalTelemetry).bytesIn;
    assert.deepStrictEqual(viaHandle, await inlineSum(4));
    await engine.treeReduce(LOGISTIC_LOSS_GRADIENT, placed, ARGS);
    const bytesWithArray = (engine.telemetry() as LocalTelemetry).bytesIn - bytesWithHandle;
    // The handle is a name: each task carries 16 bytes of arguments instead of the 88-byte vector.
    assert.ok(bytesWithHandle < bytesWithArray, `${bytesWithHandle} vs ${bytesWithArray}`);
    // Small placements stay on this thread and resolve the same handle.
    const small = { rows: 100, cols: d, X: X.subarray(0, 100 * d), y: labels.values.subarray(0, 100) };
    const smallPlaced = await engine.distribute(small, { partitions: 2 });
    const inline = new InlineEngine();
    const expected = await inline.treeReduce(
      LOGISTIC_LOSS_GRADIENT,
      await inline.distribute(small, { partitions: 2 }),
      ARGS,
    );
    assert.deepStrictEqual(
      await engine.treeReduce(LOGISTIC_LOSS_GRADIENT, smallPlaced, { coef: handle, rowsOfCoef: 1 }),
      expected,
    );
    await assert.rejects(
      engine.treeReduce(LOGISTIC_LOSS_GRADIENT, placed, {
        coef: { broadcast: 'nope', length: 11 },
        rowsOfCoef: 1,
      }),
      /argument 'coef' names broadcast 'nope', which is not \(or no longer\) shared/,
    );
  });
});
