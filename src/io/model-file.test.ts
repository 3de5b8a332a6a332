import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  assemble,
  bytesOf,
  CREATED_AT,
  encodeSample,
  sample,
  split,
} from '../../test/helpers/model-file-sample.ts';
import { DistmlError } from '../errors.ts';
import { readModelFile, readModelHeader, writeModelFile } from './model-file.ts';

describe('model files on disk', () => {
  let dir = '';
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'distml-model-file-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('writes atomically, leaving no temporary file, and reads back what it wrote', async () => {
    const sub = join(dir, 'write');
    await mkdir(sub);
    const path = join(sub, 'model.dmf');
    await writeModelFile(path, sample(), { createdAt: CREATED_AT });
    assert.deepEqual(await readdir(sub), ['model.dmf']);
    assert.deepEqual(new Uint8Array(await readFile(path)), encodeSample());
    const loaded = await readModelFile(path);
    assert.deepEqual(bytesOf(loaded.tensors.weights!.data), bytesOf(sample().tensors.weights!.data));

    await writeModelFile(path, { ...sample(), kind: 'linear-svm' });
    assert.equal((await readModelFile(path)).kind, 'linear-svm');
    assert.deepEqual(await readdir(sub), ['model.dmf']);
  });

  test('a failed write leaves the old file as it was', async () => {
    const sub = join(dir, 'keep');
    await mkdir(sub);
    const path = join(sub, 'model.dmf');
    await writeModelFile(path, sample(), { createdAt: CREATED_AT });
    const old = await readFile(path);
    await assert.rejects(writeModelFile(path, { ...sample(), meta: { score: Number.POSITIVE_INFINITY } }), {
      name: 'ModelFileError',
      fault: 'bad-header',
      message: new RegExp(
        `^${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: bad-header: meta\\.score is Infinity`,
      ),
    });
    assert.deepEqual(await readFile(path), old);
    assert.deepEqual(await readdir(sub), ['model.dmf']);
  });

  test('a missing directory or a rename that fails is a FILE_IO error and leaves no temporary file', async () => {
    const missing = join(dir, 'no-such-dir', 'model.dmf');
    await assert.rejects(writeModelFile(missing, sample()), (err: unknown) => {
      assert.ok(err instanceof DistmlError);
      assert.equal(err.code, 'FILE_IO');
      assert.match(err.message, /cannot write .*no-such-dir\/model\.dmf/);
      return true;
    });

    // The temporary file is written in full, then renaming it over a non-empty directory fails.
    const sub = join(dir, 'rename');
    await mkdir(join(sub, 'model.dmf'), { recursive: true });
    await writeFile(join(sub, 'model.dmf', 'keep.txt'), 'old');
    await assert.rejects(writeModelFile(join(sub, 'model.dmf'), sample()), {
      name: 'DistmlError',
      code: 'FILE_IO',
    });
    assert.deepEqual(await readdir(sub), ['model.dmf']);
    assert.equal(await readFile(join(sub, 'model.dmf', 'keep.txt'), 'utf8'), 'old');
  });

  test('reading a missing file is a FILE_IO error naming it', async () => {
    const path = join(dir, 'absent.dmf');
    await assert.rejects(readModelFile(path), {
      name: 'DistmlError',
      code: 'FILE_IO',
      message: /absent\.dmf/,
    });
    await assert.rejects(readModelHeader(path), {
      name: 'DistmlError',
      code: 'FILE_IO',
      message: /absent\.dmf/,
    });
  });

  test('readModelHeader returns the checked header of a file', async () => {
    const path = join(dir, 'header.dmf');
    await writeFile(path, encodeSample());
    const header = await readModelHeader(path);
    assert.deepEqual(header, split(encodeSample()).header);
    assert.equal(header.tensors.weights!.dtype, 'f64');
  });

  test('readModelHeader refuses what the prefix and header already show to be wrong', async () => {
    const bytes = encodeSample();
    const cut = join(dir, 'cut-header.dmf');
    await writeFile(cut, bytes.subarray(0, 64));
    await assert.rejects(readModelHeader(cut), {
      name: 'ModelFileError',
      fault: 'truncated',
      message: /header claims/,
    });
    const cutData = join(dir, 'cut-data.dmf');
    await writeFile(cutData, bytes.subarray(0, bytes.length - 8));
    await assert.rejects(readModelHeader(cutData), {
      name: 'ModelFileError',
      fault: 'truncated',
      message: /ends at data byte/,
    });
    const huge = join(dir, 'huge-header.dmf');
    const prefix = new Uint8Array(16);
    prefix.set(new TextEncoder().encode('DISTMLMF'));
    new DataView(prefix.buffer).setBigUint64(8, 1n << 40n, true);
    await writeFile(huge, prefix);
    await assert.rejects(readModelHeader(huge), { name: 'ModelFileError', fault: 'header-too-large' });
  });

  test('readModelHeader reads only the header of a 16 GiB file; readModelFile refuses it unread', async () => {
    const size = 2 ** 34;
    const { header } = split(encodeSample());
    header.tensors = {
      big: { dtype: 'f64', shape: [2 ** 31], offsets: [0, size], sha256: '0'.repeat(64) },
    };
    const path = join(dir, 'big.dmf');
    const head = assemble(JSON.stringify(header), new Uint8Array(0));
    await writeFile(path, head);
    await truncate(path, head.length + size); // sparse: no disk blocks, but reading it all would take minutes
    // The file is 16 GiB: reading it whole would fail, so a header that comes back was read alone.
    const got = await readModelHeader(path);
    assert.deepEqual(got.tensors.big!.shape, [2 ** 31]);
    await assert.rejects(readModelFile(path), {
      name: 'ModelFileError',
      fault: 'file-too-large',
      message: /over the limit of 4294967296 \(maxFileBytes\)/,
    });
  });
});
