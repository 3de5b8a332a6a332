import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import {
  assemble,
  bytesOf,
  CREATED_AT,
  encodeSample,
  sample,
  split,
} from '../../test/helpers/model-file-sample.ts';
import { DistmlError, ModelFileError, type ModelFileFault } from '../errors.ts';
import {
  decodeModelFile,
  encodeModelFile,
  type ModelFileContents,
  type ModelFileHeader,
} from './tensor-container.ts';

/** The sample file with its header changed by `mutate` and its data kept. */
function withHeader(mutate: (header: Record<string, unknown> & ModelFileHeader) => void): Uint8Array {
  const { header, data } = split(encodeSample());
  mutate(header as Record<string, unknown> & ModelFileHeader);
  return assemble(JSON.stringify(header), data);
}

/** The tensor entry `name` of a header, loosely typed so tests can break it. */
function entry(header: ModelFileHeader, name: string): Record<string, unknown> {
  return header.tensors[name] as unknown as Record<string, unknown>;
}

function refuses(
  bytes: Uint8Array,
  fault: ModelFileFault,
  message: RegExp,
  limits?: Parameters<typeof decodeModelFile>[2],
) {
  assert.throws(() => decodeModelFile(bytes, 'm.dmf', limits), { name: 'ModelFileError', fault, message });
}

describe('encodeModelFile and decodeModelFile', () => {
  test('round trip is bit-identical, NaN payloads, -0 and denormals included', () => {
    const original = sample();
    const decoded = decodeModelFile(encodeSample(), 'm.dmf');
    assert.equal(decoded.kind, original.kind);
    assert.deepEqual(decoded.params, original.params);
    assert.deepEqual(decoded.meta, original.meta);
    assert.equal(decoded.formatVersion, 1);
    assert.equal(decoded.createdAt, CREATED_AT);
    assert.deepEqual(Object.keys(decoded.tensors).sort(), Object.keys(original.tensors).sort());
    for (const [name, want] of Object.entries(original.tensors)) {
      const got = decoded.tensors[name]!;
      assert.equal(got.dtype, want.dtype, name);
      assert.deepEqual(got.shape, want.shape, name);
      assert.equal(got.data.constructor, want.data.constructor, name);
      assert.deepEqual(bytesOf(got.data), bytesOf(want.data), `${name} bytes`);
    }
  });

  test('decoded tensors are fresh, aligned arrays that share nothing with the file bytes', () => {
    const bytes = encodeSample();
    const decoded = decodeModelFile(bytes, 'm.dmf');
    const weights = decoded.tensors.weights!.data;
    assert.equal(weights.byteOffset, 0);
    assert.equal(weights.buffer.byteLength, weights.byteLength);
    assert.notEqual(weights.buffer, bytes.buffer);
    const before = weights[5];
    bytes.fill(0, bytes.length - 64);
    assert.equal(weights[5], before);
  });

  test('a model without tensors round-trips', () => {
    const bytes = encodeModelFile(
      { kind: 'k', params: {}, meta: {}, tensors: {} },
      { createdAt: CREATED_AT },
    );
    assert.equal(bytes.length % 8, 0);
    const decoded = decodeModelFile(bytes, 'm.dmf');
    assert.deepEqual(decoded.tensors, {});
    assert.equal(decoded.kind, 'k');
  });

  test('equal contents give equal bytes, whatever the order of keys and tensors', () => {
    const a = sample();
    const b: ModelFileContents = {
      kind: a.kind,
      meta: { note: null, metrics: { logLoss: 0.21, accuracy: 0.93 }, schema: a.meta.schema },
      params: Object.fromEntries(Object.entries(a.params).reverse()),
      tensors: Object.fromEntries(Object.entries(a.tensors).reverse()),
    };
    const bytesA = encodeModelFile(a, { createdAt: CREATED_AT });
    assert.deepEqual(encodeModelFile(a, { createdAt: CREATED_AT }), bytesA);
    assert.deepEqual(encodeModelFile(b, { createdAt: CREATED_AT }), bytesA);
  });

  test('layout: magic, little-endian header length, 8-byte alignment, tensors in name order', () => {
    const bytes = encodeSample();
    assert.equal(new TextDecoder().decode(bytes.subarray(0, 8)), 'DISTMLMF');
    const n = Number(new DataView(bytes.buffer).getBigUint64(8, true));
    assert.equal((16 + n) % 8, 0);
    assert.equal(bytes.length % 8, 0);
    const { header, data } = split(bytes);
    assert.equal(header.format, 'distml-model');
    const names = Object.keys(header.tensors);
    const byOffset = [...names].sort((x, y) => header.tensors[x]!.offsets[0] - header.tensors[y]!.offsets[0]);
    assert.deepEqual(byOffset, [...names].sort());
    for (const name of names) assert.equal(header.tensors[name]!.offsets[0] % 8, 0, name);
    // 1.5 as little-endian f64 is 00 00 00 00 00 00 f8 3f, whatever the host's byte order.
    const [begin, end] = header.tensors.weights!.offsets;
    assert.deepEqual([...data.subarray(end - 8, end)], [0, 0, 0, 0, 0, 0, 0xf8, 0x3f]);
    assert.equal(begin % 8, 0);
    assert.equal(bytes[16 + n - 1], 0x20, 'the header is padded with spaces');
  });

  test('a view writes its own bytes, not the rest of its buffer', () => {
    const backing = Float64Array.from([9, 1, 2, 9]);
    const view = backing.subarray(1, 3);
    const bytes = encodeModelFile(
      { kind: 'k', params: {}, meta: {}, tensors: { w: { dtype: 'f64', shape: [2], data: view } } },
      { createdAt: CREATED_AT },
    );
    assert.deepEqual([...decodeModelFile(bytes, 'm.dmf').tensors.w!.data], [1, 2]);
  });

  test('distmlVersion defaults to the package version and createdAt to now', () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version: string;
    };
    const before = Date.now();
    const decoded = decodeModelFile(
      encodeModelFile({ kind: 'k', params: {}, meta: {}, tensors: {} }),
      'm.dmf',
    );
    assert.equal(decoded.distmlVersion, pkg.version);
    const at = Date.parse(decoded.createdAt!);
    assert.ok(at >= before - 1000 && at <= Date.now() + 1000, decoded.createdAt);
  });

  test('refuses to encode what it could not decode, naming the value', () => {
    const base = (): ModelFileContents => ({ kind: 'k', params: {}, meta: {}, tensors: {} });
    const cases: [ModelFileContents, ModelFileFault, RegExp][] = [
      [
        { ...base(), tensors: { w: { dtype: 'f64', shape: [2], data: new Float32Array(2) } } },
        'bad-tensor',
        /tensor 'w' has dtype f64 but its data is a Float32Array/,
      ],
      [
        { ...base(), tensors: { w: { dtype: 'f64', shape: [2, 2], data: new Float64Array(3) } } },
        'bad-tensor',
        /shape \[2, 2\] \(4 values\) but 3 values/,
      ],
      [
        { ...base(), tensors: { w: { dtype: 'f64', shape: [-1], data: new Float64Array(0) } } },
        'bad-tensor',
        /not an array of non-negative integers/,
      ],
      [
        { ...base(), meta: { metrics: { logLoss: Number.NaN } } },
        'bad-header',
        /meta\.metrics\.logLoss is NaN/,
      ],
      [{ ...base(), meta: { when: new Date(0) } }, 'bad-header', /meta\.when is a Date/],
      [
        { ...base(), params: JSON.parse('{"a":{"__proto__":{"x":1}}}') },
        'forbidden-key',
        /params\.a has the key '__proto__'/,
      ],
      [{ ...base(), params: { constructor: 1 } }, 'forbidden-key', /'constructor'/],
      [{ ...base(), formatVersion: 2 }, 'unsupported-version', /writes formatVersion 1/],
      [{ ...base(), createdAt: 'yesterday' }, 'bad-header', /createdAt 'yesterday'/],
    ];
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    cases.push([{ ...base(), meta: cyclic }, 'bad-header', /meta\.self refers back to itself/]);
    for (const [contents, fault, message] of cases) {
      assert.throws(() => encodeModelFile(contents), { name: 'ModelFileError', fault, message });
    }
  });
});

describe('decodeModelFile refuses', () => {
  test('truncated files: no prefix, a cut header, a cut data section', () => {
    const bytes = encodeSample();
    refuses(
      bytes.subarray(0, 15),
      'truncated',
      /^m\.dmf: truncated: the file has 15 bytes, fewer than the 16-byte prefix/,
    );
    refuses(bytes.subarray(0, 40), 'truncated', /the header claims \d+ bytes but the file has only 24/);
    refuses(
      bytes.subarray(0, bytes.length - 8),
      'truncated',
      /tensor 'weights' ends at data byte \d+ but the data section has only/,
    );
    // Five u8 values and three bytes of padding: cutting only the padding still counts as truncated.
    const small = encodeModelFile(
      {
        kind: 'k',
        params: {},
        meta: {},
        tensors: { z: { dtype: 'u8', shape: [5], data: new Uint8Array(5) } },
      },
      { createdAt: CREATED_AT },
    );
    refuses(
      small.subarray(0, small.length - 3),
      'truncated',
      /the data section has 5 bytes, the tensors and their padding need 8/,
    );
  });

  test('a wrong magic', () => {
    const bytes = encodeSample().slice();
    bytes[0] = 0x50; // 'P', as in PK zip or PAR1
    refuses(bytes, 'bad-magic', /starts with 50 49 53 54 4d 4c 4d 46, not "DISTMLMF"/);
    assert.throws(
      () => decodeModelFile(bytes, 'm.dmf'),
      (err: unknown) => {
        assert.ok(err instanceof ModelFileError && err instanceof DistmlError);
        assert.equal(err.code, 'MODEL_FILE');
        assert.equal(err.file, 'm.dmf');
        return true;
      },
    );
  });

  test('a header over the limit, before allocating it', () => {
    const prefix = new Uint8Array(16);
    prefix.set(new TextEncoder().encode('DISTMLMF'));
    new DataView(prefix.buffer).setBigUint64(8, 1n << 40n, true); // 1 TiB, in a 16-byte file
    refuses(
      prefix,
      'header-too-large',
      /claims 1099511627776 bytes, over the limit of 16777216 \(maxHeaderBytes\)/,
    );
    new DataView(prefix.buffer).setBigUint64(8, 0xffffffffffffffffn, true);
    refuses(prefix, 'header-too-large', /claims 18446744073709551615 bytes/);
    refuses(encodeSample(), 'header-too-large', /over the limit of 64 \(maxHeaderBytes\)/, {
      maxHeaderBytes: 64,
    });
  });

  test('a file over maxFileBytes', () => {
    const bytes = encodeSample();
    refuses(
      bytes,
      'file-too-large',
      new RegExp(`file is ${bytes.length} bytes, over the limit of 100 \\(maxFileBytes\\)`),
      {
        maxFileBytes: 100,
      },
    );
  });

  test('another format version or format, saying which version this build reads', () => {
    refuses(
      withHeader((h) => {
        h.formatVersion = 2 as 1;
      }),
      'unsupported-version',
      /formatVersion is 2; this build reads formatVersion 1 only/,
    );
    refuses(
      withHeader((h) => {
        h.format = 'safetensors' as 'distml-model';
      }),
      'unsupported-version',
      /format is 'safetensors', expected 'distml-model'; this build reads formatVersion 1/,
    );
  });

  test('headers that are not UTF-8 JSON objects with the right fields', () => {
    const data = split(encodeSample()).data;
    refuses(assemble('{"format": ', data), 'bad-header', /not valid JSON/);
    refuses(assemble('[1, 2]', data), 'bad-header', /must be a JSON object, got \[1, 2\]/);
    const bad = assemble('{"kind": "xx"}', data);
    bad[17] = 0xff; // a byte that never occurs in UTF-8
    refuses(bad, 'bad-header', /not valid UTF-8/);
    const { header } = split(encodeSample());
    refuses(assemble(`\ufeff${JSON.stringify(header)}`, data), 'bad-header', /not valid JSON/);
    refuses(
      withHeader((h) => {
        delete (h as Partial<ModelFileHeader>).kind;
      }),
      'bad-header',
      /kind must be a non-empty string, got undefined/,
    );
    refuses(
      withHeader((h) => {
        h.params = [] as unknown as Record<string, unknown>;
      }),
      'bad-header',
      /params must be an object, got \[\]/,
    );
    refuses(
      withHeader((h) => {
        h.script = 'require("child_process")';
      }),
      'bad-header',
      /unknown header field 'script'/,
    );
    refuses(
      withHeader((h) => {
        h.dataSha256 = 'abc';
      }),
      'bad-header',
      /dataSha256 must be 64 lowercase hex digits/,
    );
    const misaligned = encodeSample().slice();
    const view = new DataView(misaligned.buffer);
    view.setBigUint64(8, view.getBigUint64(8, true) - 1n, true);
    refuses(misaligned, 'bad-header', /does not end on an 8-byte boundary/);
  });

  test('__proto__, constructor and prototype keys at any depth', () => {
    refuses(
      withHeader((h) => {
        h.params = JSON.parse('{"solver": {"options": {"__proto__": {"polluted": true}}}}');
      }),
      'forbidden-key',
      /the header has the key '__proto__' at params\.solver\.options/,
    );
    refuses(
      withHeader((h) => {
        h.meta = JSON.parse('{"schema": [{"name": "a"}, {"constructor": {"prototype": 1}}]}');
      }),
      'forbidden-key',
      /'constructor' at meta\.schema\[1\]/,
    );
    refuses(
      withHeader((h) => {
        h.tensors = JSON.parse(JSON.stringify(h.tensors).replace('"bias"', '"prototype"'));
      }),
      'forbidden-key',
      /'prototype' at tensors/,
    );
    refuses(
      assemble('{"__proto__": {"polluted": true}}', new Uint8Array(0)),
      'forbidden-key',
      /at \(header\)/,
    );
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  test('tensors with a bad dtype, shape, size, alignment or place', () => {
    const cases: [(h: ModelFileHeader) => void, RegExp][] = [
      [
        (h) => void (entry(h, 'bias').dtype = 'f16'),
        /tensor 'bias' has unknown dtype 'f16' \(known: f64, f32, i32, u8\)/,
      ],
      [
        (h) => void (entry(h, 'bias').shape = [-3]),
        /tensor 'bias' has shape \[-3\], not an array of non-negative integers/,
      ],
      [(h) => void (entry(h, 'bias').shape = [1.5, 2]), /tensor 'bias' has shape \[1.5, 2\]/],
      [
        (h) => void (entry(h, 'bias').shape = [4]),
        /tensor 'bias' spans 12 bytes but shape \[4\] of f32 needs 16/,
      ],
      [
        (h) => void (entry(h, 'bins').dtype = 'i32'),
        /tensor 'bins' spans 5 bytes but shape \[5\] of i32 needs 20/,
      ],
      [
        (h) => {
          const [b, e] = h.tensors.weights!.offsets;
          entry(h, 'weights').offsets = [b + 4, e + 4];
        },
        /tensor 'weights' begins at byte \d+, not a multiple of its 8-byte f64 items/,
      ],
      [
        (h) => void (entry(h, 'bias').offsets = [0.5, 12.5]),
        /tensor 'bias' has offsets \[0.5, 12.5\], not \[begin, end\]/,
      ],
      [(h) => void (entry(h, 'bias').offsets = [-8, 4]), /tensor 'bias' has offsets \[-8, 4\]/],
      [(h) => void (entry(h, 'bias').offsets = [16]), /tensor 'bias' has offsets \[16\]/],
      [
        (h) => void (entry(h, 'bias').offsets = [16, 4]),
        /tensor 'bias' has offsets \[16, 4\] that end before they begin/,
      ],
      [(h) => void (entry(h, 'bias').sha256 = 'ABC'), /tensor 'bias' has sha256 'ABC'/],
      [(h) => void (entry(h, 'bias').url = 'file:///etc/passwd'), /tensor 'bias' has unknown field 'url'/],
    ];
    for (const [mutate, message] of cases) refuses(withHeader(mutate), 'bad-tensor', message);
  });

  test('bytes after the last tensor beyond its padding (documented as bad-tensor)', () => {
    const { header, data } = split(encodeSample());
    const longer = new Uint8Array(data.length + 8);
    longer.set(data);
    refuses(
      assemble(JSON.stringify(header), longer),
      'bad-tensor',
      /8 bytes after the last tensor and its padding/,
    );
  });

  test('tensors whose byte ranges intersect', () => {
    const bytes = encodeModelFile(
      {
        kind: 'k',
        params: {},
        meta: {},
        tensors: {
          a: { dtype: 'f64', shape: [2], data: Float64Array.from([1, 2]) },
          b: { dtype: 'f64', shape: [2], data: Float64Array.from([3, 4]) },
          c: { dtype: 'u8', shape: [0], data: new Uint8Array(0) },
        },
      },
      { createdAt: CREATED_AT },
    );
    const { header, data } = split(bytes);
    assert.deepEqual(header.tensors.b!.offsets, [16, 32]);
    header.tensors.b!.offsets = [8, 24];
    refuses(
      assemble(JSON.stringify(header), data),
      'overlapping-tensors',
      /tensor 'b' \[8, 24\) overlaps tensor 'a', which ends at 16/,
    );
  });

  test('a flipped byte, naming the tensor, or the padding', () => {
    const bytes = encodeSample().slice();
    const { header, data } = split(bytes);
    const dataStart = bytes.length - data.length;
    const [begin] = header.tensors.codes!.offsets;
    bytes[dataStart + begin + 1]! ^= 0x01;
    refuses(
      bytes,
      'checksum-mismatch',
      /tensor 'codes' has sha256 [0-9a-f]{64}, the header says [0-9a-f]{64}/,
    );

    const padded = encodeSample().slice();
    const bins = header.tensors.bins!.offsets;
    padded[dataStart + bins[1]] = 0xff; // bins holds 5 bytes, so 3 bytes of padding follow it
    refuses(padded, 'checksum-mismatch', /the data section has sha256 .* so the padding changed/);
  });
});
