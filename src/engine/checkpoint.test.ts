import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Rng } from '../data/random.ts';
import { ParamError } from '../errors.ts';
import { CRASH_RUN_ID, crashTestState } from './checkpoint.crash-child.ts';
import {
  CheckpointError,
  type CheckpointOptions,
  type CheckpointState,
  CheckpointStore,
} from './checkpoint.ts';

const CRASH_CHILD = fileURLToPath(new URL('./checkpoint.crash-child.ts', import.meta.url));

const dirs: string[] = [];
after(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'distml-ckpt-'));
  dirs.push(dir);
  return dir;
}

/** A store whose warnings land in the returned array. */
function storeIn(
  dir: string,
  options: CheckpointOptions = {},
): { store: CheckpointStore; warnings: string[] } {
  const warnings: string[] = [];
  const store = new CheckpointStore(dir, { onWarning: (m) => warnings.push(m), ...options });
  return { store, warnings };
}

function stateAt(step: number): CheckpointState {
  return { step, tensors: { w: Float64Array.of(step, step / 3, -step) }, meta: { step } };
}

/** Saves steps `from`..`to` in order. */
async function saveSteps(store: CheckpointStore, from: number, to: number): Promise<void> {
  for (let step = from; step <= to; step++) await store.save(stateAt(step));
}

/** Asserts bit equality: NaN payloads and the sign of zero count, unlike deepStrictEqual on floats. */
function assertSameBits(actual: Float64Array | undefined, expected: Float64Array, what: string): void {
  assert.ok(actual instanceof Float64Array, `${what} is missing`);
  const a = Buffer.from(actual.buffer, actual.byteOffset, actual.byteLength);
  const b = Buffer.from(expected.buffer, expected.byteOffset, expected.byteLength);
  assert.ok(a.equals(b), `${what} differs from what was saved`);
}

async function flipLastByte(path: string): Promise<void> {
  const bytes = await readFile(path);
  bytes[bytes.length - 9]! ^= 0x01;
  await writeFile(path, bytes);
}

test('a checkpoint round-trips tensors bit for bit and meta exactly', async () => {
  const dir = await tempDir();
  const { store, warnings } = storeIn(dir, { runId: 'run-a' });
  const special = new Float64Array(6);
  const words = new Uint32Array(special.buffer);
  words[0] = 0x00000001; // a quiet NaN with payload 1
  words[1] = 0x7ff80000;
  words[2] = 0xdeadbeef; // a signalling NaN with a large negative payload
  words[3] = 0xfff00001;
  special[2] = -0;
  special[3] = Number.NEGATIVE_INFINITY;
  special[4] = Number.MIN_VALUE;
  special[5] = -Number.MAX_VALUE;
  const meta = {
    optimizer: { name: 'adam', beta: [0.9, 0.999], t: 41 },
    history: [1.5, 0.25],
    done: false,
    note: null,
  };
  await store.save({ step: 41, tensors: { special, empty: new Float64Array(0) }, meta });

  const got = await store.latest();
  assert.ok(got !== undefined);
  assert.equal(got.step, 41);
  assert.deepEqual(Object.keys(got.tensors).sort(), ['empty', 'special']);
  assertSameBits(got.tensors.special, special, 'special');
  assertSameBits(got.tensors.empty, new Float64Array(0), 'empty');
  assert.deepStrictEqual(got.meta, meta);
  assert.deepEqual(warnings, []);
});

test('save copies the state when called, so the caller may change it while the write runs', async () => {
  const dir = await tempDir();
  const { store } = storeIn(dir);
  const w = Float64Array.of(1, 2, 3);
  const saving = store.save({ step: 1, tensors: { w }, meta: {} });
  w.fill(9);
  await saving;
  assertSameBits((await store.latest())?.tensors.w, Float64Array.of(1, 2, 3), 'w');
});

test('keep=2 retains exactly the two newest checkpoints, and list() describes them', async () => {
  const dir = await tempDir();
  const { store } = storeIn(dir, { keep: 2 });
  await saveSteps(store, 1, 5);
  assert.deepEqual((await readdir(dir)).sort(), ['ckpt-000004.dmck', 'ckpt-000005.dmck', 'manifest.json']);

  const listed = await store.list();
  assert.deepEqual(
    listed.map((e) => [e.step, e.file]),
    [
      [4, join(dir, 'ckpt-000004.dmck')],
      [5, join(dir, 'ckpt-000005.dmck')],
    ],
  );
  for (const entry of listed) {
    const bytes = await readFile(entry.file);
    assert.equal(entry.bytes, bytes.byteLength);
    assert.equal(entry.sha256, createHash('sha256').update(bytes).digest('hex'));
  }
  const manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8'));
  assert.equal(manifest.runId, null);
  assert.deepEqual(
    manifest.checkpoints.map((e: { step: number }) => e.step),
    [4, 5],
  );
});

test('the directory is created on the first save; a missing directory has no checkpoints', async () => {
  const dir = join(await tempDir(), 'runs', 'a');
  const { store, warnings } = storeIn(dir);
  assert.equal(await store.latest(), undefined);
  assert.deepEqual(await store.list(), []);
  await store.save(stateAt(3));
  assert.equal((await store.latest())?.step, 3);
  assert.deepEqual(warnings, []);
});

test('a corrupt newest checkpoint is reported and the previous one is used', async () => {
  const dir = await tempDir();
  const { store, warnings } = storeIn(dir);
  await saveSteps(store, 1, 5);
  await flipLastByte(join(dir, 'ckpt-000005.dmck'));

  const got = await store.latest();
  assert.equal(got?.step, 4);
  assertSameBits(got?.tensors.w, stateAt(4).tensors.w!, 'w');
  assert.equal(warnings.length, 1);
  assert.match(
    warnings[0]!,
    /^checkpoint .*ckpt-000005\.dmck is corrupt \(checksum mismatch: the file's sha256 is [0-9a-f]{12}…, the manifest says [0-9a-f]{12}…\); using ckpt-000004\.dmck$/,
  );
});

test('a truncated newest checkpoint is reported and the previous one is used', async () => {
  const dir = await tempDir();
  const { store, warnings } = storeIn(dir);
  await saveSteps(store, 1, 5);
  const path = join(dir, 'ckpt-000005.dmck');
  const { size } = await stat(path);
  await truncate(path, 100);

  assert.equal((await store.latest())?.step, 4);
  assert.deepEqual(warnings, [
    `checkpoint ${path} is truncated (100 bytes, the manifest says ${size}); using ckpt-000004.dmck`,
  ]);
});

test('without a manifest the newest valid checkpoint is found by scanning', async () => {
  const dir = await tempDir();
  const { store, warnings } = storeIn(dir);
  await saveSteps(store, 1, 5);
  await rm(join(dir, 'manifest.json'));

  assert.equal((await store.latest())?.step, 5);
  assert.deepEqual(warnings, []);

  // A scan trusts no size or checksum, so the model-file checks alone catch the damage.
  await flipLastByte(join(dir, 'ckpt-000005.dmck'));
  assert.equal((await store.latest())?.step, 4);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /ckpt-000005\.dmck is corrupt \(checksum-mismatch: tensor 'w' has sha256 /);
  assert.match(warnings[0]!, /; using ckpt-000004\.dmck$/);
});

test('an unusable manifest is reported and the directory is scanned', async () => {
  const cases: Array<[string, string | Uint8Array, RegExp]> = [
    ['not JSON', '{"format": "distml-chec', /is corrupt \(not valid JSON: /],
    [
      'a path outside the directory',
      JSON.stringify({
        format: 'distml-checkpoints',
        version: 1,
        runId: null,
        checkpoints: [{ step: 5, file: '../../etc/passwd', bytes: 1, sha256: '0'.repeat(64) }],
      }),
      /is corrupt \(checkpoints\[0\]\.file is "\.\.\/\.\.\/etc\/passwd", expected 'ckpt-000005\.dmck'\)/,
    ],
    [
      'over 1 MiB',
      new Uint8Array(1024 * 1024 + 1).fill(0x20),
      /is too large \(1048577 bytes, over the limit of 1048576\)/,
    ],
  ];
  for (const [what, content, expected] of cases) {
    const dir = await tempDir();
    const { store, warnings } = storeIn(dir);
    await saveSteps(store, 1, 2);
    await writeFile(join(dir, 'manifest.json'), content);
    assert.equal((await store.latest())?.step, 2, what);
    assert.equal(warnings.length, 1, what);
    assert.ok(warnings[0]!.startsWith(`checkpoint manifest ${join(dir, 'manifest.json')} is `), what);
    assert.match(warnings[0]!, expected, what);
    assert.match(warnings[0]!, /; scanning the checkpoint files instead$/, what);
  }
});

test('when every checkpoint is damaged, latest() returns undefined and reports each one', async () => {
  const dir = await tempDir();
  const { store, warnings } = storeIn(dir);
  await saveSteps(store, 1, 5);
  await flipLastByte(join(dir, 'ckpt-000005.dmck'));
  await truncate(join(dir, 'ckpt-000004.dmck'), 0);

  assert.equal(await store.latest(), undefined);
  assert.equal(warnings.length, 2);
  assert.match(
    warnings[0]!,
    /ckpt-000005\.dmck is corrupt \(checksum mismatch: .*; no older checkpoint verifies$/,
  );
  assert.match(warnings[1]!, /ckpt-000004\.dmck is truncated \(0 bytes, .*; no older checkpoint verifies$/);
});

test("another run's checkpoints are refused, with or without the manifest", async () => {
  const dir = await tempDir();
  await saveSteps(storeIn(dir, { runId: 'run-a' }).store, 1, 2);
  const { store, warnings } = storeIn(dir, { runId: 'run-b' });

  const refused = (err: unknown): boolean => {
    assert.ok(err instanceof CheckpointError);
    assert.equal(err.fault, 'mismatch');
    assert.match(err.message, /is from another run \(written by run 'run-a', this is run 'run-b'\)/);
    return true;
  };
  await assert.rejects(store.latest(), refused);
  await assert.rejects(store.list(), refused);
  // Saving would delete run-a's checkpoints, so it is refused before anything is written.
  await assert.rejects(store.save(stateAt(3)), refused);
  assert.deepEqual((await readdir(dir)).sort(), ['ckpt-000001.dmck', 'ckpt-000002.dmck', 'manifest.json']);

  await rm(join(dir, 'manifest.json'));
  await assert.rejects(store.latest(), refused);
  await assert.rejects(store.save(stateAt(3)), refused);
  assert.deepEqual((await readdir(dir)).sort(), ['ckpt-000001.dmck', 'ckpt-000002.dmck']);
  assert.deepEqual(warnings, []);

  // A store without a run id accepts any run's checkpoints.
  assert.equal((await storeIn(dir).store.latest())?.step, 2);
});

test('saving an earlier step supersedes the later checkpoints of an abandoned attempt', async () => {
  const dir = await tempDir();
  const { store } = storeIn(dir, { keep: 3 });
  await saveSteps(store, 1, 4);
  await store.save(stateAt(3));
  assert.deepEqual(
    (await store.list()).map((e) => e.step),
    [2, 3],
  );
  assert.deepEqual((await readdir(dir)).sort(), ['ckpt-000002.dmck', 'ckpt-000003.dmck', 'manifest.json']);
});

test('temporary files left by a crashed writer are ignored, then removed by the next save', async () => {
  const dir = await tempDir();
  const { store, warnings } = storeIn(dir);
  await saveSteps(store, 1, 2);
  // pid 2^30 is above Linux's pid_max, so no live process owns it; our own pid is alive.
  const dead = `.ckpt-000003.dmck.${2 ** 30}.0badc0de.tmp`;
  const live = `.manifest.json.${process.pid}.0badc0de.tmp`;
  await writeFile(join(dir, dead), 'half a checkpoint');
  await writeFile(join(dir, live), 'a write in progress');
  await writeFile(join(dir, 'notes.txt'), 'not ours');

  assert.equal((await store.latest())?.step, 2);
  await store.save(stateAt(3));
  assert.deepEqual((await readdir(dir)).sort(), [
    live,
    'ckpt-000002.dmck',
    'ckpt-000003.dmck',
    'manifest.json',
    'notes.txt',
  ]);
  assert.deepEqual(warnings, []);
});

test('bad options and steps are refused by name', async () => {
  assert.throws(() => new CheckpointStore('x', { keep: 0 }), {
    name: 'ParamError',
    message: 'CheckpointStore: keep must be an integer ≥ 1, got 0',
  });
  assert.throws(() => new CheckpointStore('x', { runId: '' }), ParamError);
  const { store } = storeIn(await tempDir());
  await assert.rejects(store.save(stateAt(-1)), {
    name: 'ParamError',
    message: 'CheckpointStore.save: step must be a non-negative integer, got -1',
  });
  await assert.rejects(store.save({ step: 1, tensors: {}, meta: { lr: Number.NaN } }), {
    name: 'ModelFileError',
    message: /meta\.state\.lr is NaN, which JSON cannot hold/,
  });
});

test('a process killed at random instants always leaves its last saved checkpoint loadable', async () => {
  const dir = await tempDir();
  const rng = new Rng(20240611);
  let previous = 0;
  for (let kill = 0; kill < 25; kill++) {
    const delay = 5 + rng.int(146);
    const child = spawn(process.execPath, ['--import', 'tsx', CRASH_CHILD, dir], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    let ready = false;
    child.stderr.setEncoding('utf8').on('data', (s: string) => (err += s));
    child.stdout.setEncoding('utf8').on('data', (s: string) => {
      out += s;
      // The delay counts from the first line, `ready`, so every kill lands after Node's start-up.
      if (!ready && out.includes('\n')) {
        ready = true;
        setTimeout(() => child.kill('SIGKILL'), delay);
      }
    });
    const [code, signal] = (await once(child, 'close')) as [number | null, NodeJS.Signals | null];
    const where = `kill ${kill} after ${delay} ms`;
    assert.equal(signal, 'SIGKILL', `${where}: the child exited with ${code}: ${err}`);

    const lines = out.split('\n').filter((l) => l !== '');
    assert.deepEqual(
      lines.filter((l) => !/^(ready|saved) \d+$/.test(l)),
      [],
      `${where}: unexpected output`,
    );
    assert.equal(lines[0], `ready ${previous}`, `${where}: the child resumed from the wrong step`);
    const saved = lines.filter((l) => l.startsWith('saved ')).map((l) => Number(l.slice(6)));
    const lastSaved = saved.at(-1) ?? previous;

    const { store, warnings } = storeIn(dir, { runId: CRASH_RUN_ID });
    const got = await store.latest();
    // The save in flight when the kill came may have completed without being reported.
    const step = got?.step ?? 0;
    assert.ok(
      step === lastSaved || step === lastSaved + 1,
      `${where}: latest is ${step}, last saved ${lastSaved}`,
    );
    assert.deepEqual(warnings, [], `${where}: a crash damaged a listed checkpoint`);
    if (got !== undefined) {
      const expected = crashTestState(step);
      assertSameBits(got.tensors.weights, expected.tensors.weights!, `${where}: weights`);
      assertSameBits(got.tensors.bias, expected.tensors.bias!, `${where}: bias`);
      assert.deepStrictEqual(got.meta, expected.meta);
      assert.equal((await store.list()).at(-1)?.step, step);
    }
    previous = step;
  }
});
