/**
 * The bytes of a distml model file, without the file system: the safetensors idea.
 *
 * ```
 * 0..7    ASCII magic "DISTMLMF"
 * 8..15   N, the header length, unsigned 64-bit little-endian
 * 16..    N bytes of UTF-8 JSON, padded with spaces so the data section starts on a multiple of 8
 * 16+N..  the data section: raw little-endian tensors, each starting on a multiple of 8, in name
 *         order, zero-padded so the section length is a multiple of 8
 * ```
 *
 * Decoding parses and checks; it never runs code, never follows a path, and refuses any header that
 * could reach an object's prototype. Every refusal is a {@link ModelFileError} whose `fault` names
 * the exact problem. Bytes after the last tensor beyond its 8-byte padding are refused as
 * `bad-tensor` (they belong to no tensor); a data section cut short of that padding is `truncated`.
 */
import { ModelFileError } from '../errors.ts';
import type { DType, Tensor, TensorData } from '../tensor.ts';
import { VERSION } from '../version.ts';
import {
  canonicalJson,
  describe,
  type Fail,
  FORBIDDEN_KEYS,
  findForbiddenKey,
  isPlainObject,
} from './header-json.ts';
import { sha256Hex } from './sha256.ts';

export type { DType, Tensor, TensorData };

/** What a model file holds. The optional fields are filled in by encoding and always set after decoding. */
export interface ModelFileContents {
  /** The estimator's stable id, e.g. `logistic-regression`. */
  kind: string;
  /** Hyper-parameters: plain JSON data. */
  params: Record<string, unknown>;
  /** Free JSON supplied by the caller: schema, preprocessing, training metrics… */
  meta: Record<string, unknown>;
  /** Named tensors (weights, thresholds, centroids…). */
  tensors: Record<string, Tensor>;
  /** The file format version; this build writes and reads only {@link MODEL_FORMAT_VERSION}. */
  formatVersion?: number;
  /** The distml version that wrote the file. */
  distmlVersion?: string;
  /** When the file was written, as an ISO 8601 string. */
  createdAt?: string;
}

/** Where one tensor sits in the data section, as the header records it. */
export interface TensorEntry {
  dtype: DType;
  shape: number[];
  /** `[begin, end)` byte offsets relative to the start of the data section. */
  offsets: [number, number];
  /** Lowercase hex SHA-256 of the tensor's bytes. */
  sha256: string;
}

/** The parsed JSON header of a model file, checked field by field. */
export interface ModelFileHeader {
  format: 'distml-model';
  formatVersion: typeof MODEL_FORMAT_VERSION;
  kind: string;
  distmlVersion: string;
  createdAt: string;
  params: Record<string, unknown>;
  meta: Record<string, unknown>;
  tensors: Record<string, TensorEntry>;
  /** Lowercase hex SHA-256 of the whole data section, padding included. */
  dataSha256: string;
}

/** Size limits checked before anything large is allocated or read. */
export interface ModelFileLimits {
  /**
   * Largest header accepted, in bytes.
   * @defaultValue 16 MiB
   */
  maxHeaderBytes?: number;
  /**
   * Largest file accepted, in bytes.
   * @defaultValue 4 GiB
   */
  maxFileBytes?: number;
}

/** Options of {@link encodeModelFile}. */
export interface EncodeOptions {
  /**
   * Timestamp written into the header; pin it to get byte-identical files.
   * @defaultValue `contents.createdAt`, else the current time
   */
  createdAt?: string;
  /**
   * Version written into the header.
   * @defaultValue `contents.distmlVersion`, else the version of this build
   */
  distmlVersion?: string;
  /**
   * Name used in error messages.
   * @defaultValue `'model file'`
   */
  fileName?: string;
}

/** The only format version this build writes and reads. */
export const MODEL_FORMAT_VERSION = 1;

/** Bytes before the JSON header: the magic and the header length. */
export const MODEL_PREFIX_BYTES = 16;

/** Default size limits. */
export const DEFAULT_MODEL_FILE_LIMITS: Readonly<Required<ModelFileLimits>> = {
  maxHeaderBytes: 16 * 1024 * 1024,
  maxFileBytes: 4 * 1024 * 1024 * 1024,
};

const DISTML_VERSION = VERSION;

const FORMAT_NAME = 'distml-model';
const MAGIC = 'DISTMLMF';
const ALIGN = 8;
const ARRAY_TYPE = { f64: Float64Array, f32: Float32Array, i32: Int32Array, u8: Uint8Array } as const;
const DTYPES = Object.keys(ARRAY_TYPE) as DType[];
/** The fields a header may hold: any other is refused. */
const HEADER_FIELDS = [
  'format',
  'formatVersion',
  'kind',
  'distmlVersion',
  'createdAt',
  'params',
  'meta',
  'tensors',
  'dataSha256',
] as const;
const TENSOR_FIELDS = ['dtype', 'shape', 'offsets', 'sha256'] as const;
const ISO_DATE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
const SHA256_HEX = /^[0-9a-f]{64}$/;
/** Typed arrays use the host's byte order; the file is always little-endian. */
const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Encodes a model as file bytes. The same contents (and `createdAt`) always give the same bytes:
 * JSON keys are sorted and tensors are laid out in name order.
 *
 * `params` and `meta` must be plain JSON data (objects, arrays, strings, finite numbers, booleans,
 * null); properties whose value is `undefined` are left out, as JSON does, and -0 is written as 0.
 * @throws ModelFileError (`bad-header`, `forbidden-key`, `bad-tensor`, `unsupported-version`) naming the
 *   offending value, so no file is written that {@link decodeModelFile} would refuse
 */
export function encodeModelFile(contents: ModelFileContents, options: EncodeOptions = {}): Uint8Array {
  const fail = failFor(options.fileName ?? 'model file');

  if (contents.formatVersion !== undefined && contents.formatVersion !== MODEL_FORMAT_VERSION) {
    throw fail(
      'unsupported-version',
      `cannot write formatVersion ${contents.formatVersion}; this build writes formatVersion ${MODEL_FORMAT_VERSION}`,
    );
  }
  if (typeof contents.kind !== 'string' || contents.kind === '') {
    throw fail('bad-header', `kind must be a non-empty string, got ${describe(contents.kind)}`);
  }
  const createdAt = options.createdAt ?? contents.createdAt ?? new Date().toISOString();
  if (!ISO_DATE.test(createdAt)) {
    throw fail('bad-header', `createdAt '${createdAt}' is not an ISO 8601 time`);
  }
  const distmlVersion = options.distmlVersion ?? contents.distmlVersion ?? DISTML_VERSION;
  if (distmlVersion === '') {
    throw fail('bad-header', 'distmlVersion must be a non-empty string');
  }
  const params = canonicalJson(contents.params, 'params', [], fail);
  const meta = canonicalJson(contents.meta, 'meta', [], fail);
  if (!isPlainObject(params)) throw fail('bad-header', `params must be an object, got ${describe(params)}`);
  if (!isPlainObject(meta)) throw fail('bad-header', `meta must be an object, got ${describe(meta)}`);

  const names = Object.keys(contents.tensors).sort();
  const entries: Record<string, TensorEntry> = {};
  let cursor = 0;
  for (const name of names) {
    const { dtype, shape, data } = checkTensorForEncoding(name, contents.tensors[name]!, fail);
    const begin = alignUp(cursor);
    cursor = begin + data.byteLength;
    entries[name] = { dtype, shape: [...shape], offsets: [begin, cursor], sha256: '' };
  }
  // Checksums are taken after the copy, so they cover exactly the little-endian bytes in the file.
  const data = new Uint8Array(alignUp(cursor));
  for (const name of names) {
    const entry = entries[name]!;
    const { buffer, byteOffset, byteLength, BYTES_PER_ELEMENT } = contents.tensors[name]!.data;
    const dst = data.subarray(entry.offsets[0], entry.offsets[1]);
    copyLittleEndian(new Uint8Array(buffer, byteOffset, byteLength), dst, BYTES_PER_ELEMENT);
    entry.sha256 = sha256Hex(dst);
  }

  const header: ModelFileHeader = {
    format: FORMAT_NAME,
    formatVersion: MODEL_FORMAT_VERSION,
    kind: contents.kind,
    distmlVersion,
    createdAt,
    params,
    meta,
    tensors: entries,
    dataSha256: sha256Hex(data),
  };
  const json = new TextEncoder().encode(JSON.stringify(header));
  const headerLength = alignUp(MODEL_PREFIX_BYTES + json.byteLength) - MODEL_PREFIX_BYTES;
  const out = new Uint8Array(MODEL_PREFIX_BYTES + headerLength + data.byteLength);
  for (let i = 0; i < MAGIC.length; i++) out[i] = MAGIC.charCodeAt(i);
  new DataView(out.buffer).setBigUint64(8, BigInt(headerLength), true);
  out.set(json, MODEL_PREFIX_BYTES);
  out.fill(0x20, MODEL_PREFIX_BYTES + json.byteLength, MODEL_PREFIX_BYTES + headerLength);
  out.set(data, MODEL_PREFIX_BYTES + headerLength);
  return out;
}

/**
 * Decodes and verifies model file bytes: every header field, every tensor's place, size and
 * checksum. Tensors are fresh, aligned typed arrays that share nothing with `bytes`.
 * @param fileName - named in every error message
 * @throws ModelFileError whose `fault` names the problem
 */
export function decodeModelFile(
  bytes: Uint8Array,
  fileName: string,
  limits: ModelFileLimits = {},
): ModelFileContents {
  checkFileSize(bytes.byteLength, fileName, limits);
  const fail = failFor(fileName);
  const headerLength = decodeModelPrefix(bytes, fileName, bytes.byteLength, limits);
  const dataStart = MODEL_PREFIX_BYTES + headerLength;
  const data = bytes.subarray(dataStart);
  const header = decodeModelHeader(bytes.subarray(MODEL_PREFIX_BYTES, dataStart), fileName, data.byteLength);

  const names = Object.keys(header.tensors).sort();
  for (const name of names) {
    const { offsets, sha256: expected } = header.tensors[name]!;
    const actual = sha256Hex(data.subarray(offsets[0], offsets[1]));
    if (actual !== expected) {
      throw fail(
        'checksum-mismatch',
        `tensor '${name}' has sha256 ${actual}, the header says ${expected}`,
        CORRUPT,
      );
    }
  }
  const dataSha = sha256Hex(data);
  if (dataSha !== header.dataSha256) {
    const detail = `the data section has sha256 ${dataSha}, the header says ${header.dataSha256}`;
    throw fail('checksum-mismatch', `${detail} (every tensor matches, so the padding changed)`, CORRUPT);
  }

  const tensors: Record<string, Tensor> = {};
  for (const name of names) {
    const { dtype, shape, offsets } = header.tensors[name]!;
    const Type = ARRAY_TYPE[dtype];
    const out: TensorData = new Type((offsets[1] - offsets[0]) / Type.BYTES_PER_ELEMENT);
    copyLittleEndian(
      data.subarray(offsets[0], offsets[1]),
      new Uint8Array(out.buffer),
      Type.BYTES_PER_ELEMENT,
    );
    tensors[name] = { dtype, shape, data: out };
  }
  return {
    kind: header.kind,
    params: header.params,
    meta: header.meta,
    tensors,
    formatVersion: header.formatVersion,
    distmlVersion: header.distmlVersion,
    createdAt: header.createdAt,
  };
}

/**
 * Checks the 16-byte prefix (magic and header length) against the limits and the file's length,
 * before the header is allocated or read.
 * @param prefix - the first {@link MODEL_PREFIX_BYTES} bytes of the file, or all of a shorter file
 * @param fileLength - bytes in the whole file
 * @returns the header length N
 * @throws ModelFileError (`truncated`, `bad-magic`, `header-too-large`, `bad-header`)
 */
export function decodeModelPrefix(
  prefix: Uint8Array,
  fileName: string,
  fileLength: number,
  limits: ModelFileLimits = {},
): number {
  const { maxHeaderBytes } = { ...DEFAULT_MODEL_FILE_LIMITS, ...limits };
  const fail = failFor(fileName);
  if (prefix.byteLength < MODEL_PREFIX_BYTES) {
    throw fail('truncated', `the file has ${prefix.byteLength} bytes, fewer than the 16-byte prefix`);
  }
  for (let i = 0; i < MAGIC.length; i++) {
    if (prefix[i] !== MAGIC.charCodeAt(i)) {
      const start = Array.from(prefix.subarray(0, MAGIC.length), (b) => b.toString(16).padStart(2, '0'));
      throw fail(
        'bad-magic',
        `the file starts with ${start.join(' ')}, not "${MAGIC}"`,
        'not a distml model file',
      );
    }
  }
  const length = new DataView(prefix.buffer, prefix.byteOffset, MODEL_PREFIX_BYTES).getBigUint64(8, true);
  if (length > BigInt(maxHeaderBytes)) {
    const detail = `the header claims ${length} bytes, over the limit of ${maxHeaderBytes} (maxHeaderBytes)`;
    throw fail('header-too-large', detail, 'raise maxHeaderBytes only if you trust this file');
  }
  const n = Number(length);
  if (fileLength < MODEL_PREFIX_BYTES + n) {
    const rest = fileLength - MODEL_PREFIX_BYTES;
    throw fail('truncated', `the header claims ${n} bytes but the file has only ${rest} after the prefix`);
  }
  if ((MODEL_PREFIX_BYTES + n) % ALIGN !== 0) {
    throw fail('bad-header', `the header length ${n} does not end on an 8-byte boundary (16 + N must be)`);
  }
  return n;
}

/**
 * Parses and checks the JSON header. Tensor places are checked against `dataLength`; checksums
 * are not (that needs the data).
 * @param headerBytes - the N header bytes after the prefix
 * @param dataLength - bytes in the data section
 * @throws ModelFileError (`bad-header`, `forbidden-key`, `unsupported-version`, `bad-tensor`,
 *   `overlapping-tensors`, `truncated`)
 */
export function decodeModelHeader(
  headerBytes: Uint8Array,
  fileName: string,
  dataLength: number,
): ModelFileHeader {
  const fail = failFor(fileName);
  let text: string;
  try {
    // ignoreBOM keeps a byte-order mark in the text, so JSON.parse refuses it rather than skipping it.
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(headerBytes);
  } catch {
    throw fail('bad-header', 'the header is not valid UTF-8');
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw fail('bad-header', `the header is not valid JSON: ${(err as Error).message}`);
  }
  if (!isPlainObject(raw)) throw fail('bad-header', `the header must be a JSON object, got ${describe(raw)}`);
  const forbidden = findForbiddenKey(raw);
  if (forbidden !== undefined) {
    throw fail(
      'forbidden-key',
      `the header has the key '${forbidden.key}' at ${forbidden.path}`,
      'refused to avoid prototype pollution',
    );
  }

  if (raw.format !== FORMAT_NAME) {
    throw fail(
      'unsupported-version',
      `format is ${describe(raw.format)}, expected '${FORMAT_NAME}'; this build reads formatVersion ${MODEL_FORMAT_VERSION}`,
    );
  }
  if (raw.formatVersion !== MODEL_FORMAT_VERSION) {
    throw fail(
      'unsupported-version',
      `formatVersion is ${describe(raw.formatVersion)}; this build reads formatVersion ${MODEL_FORMAT_VERSION} only`,
      'use the distml version that wrote the file, or a newer one',
    );
  }
  const unknown = Object.keys(raw).find((key) => !(HEADER_FIELDS as readonly string[]).includes(key));
  if (unknown !== undefined) throw fail('bad-header', `unknown header field '${unknown}'`);
  const { kind, distmlVersion, createdAt, params, meta, tensors, dataSha256 } = raw;
  if (typeof kind !== 'string' || kind === '') {
    throw fail('bad-header', `kind must be a non-empty string, got ${describe(kind)}`);
  }
  if (typeof distmlVersion !== 'string' || distmlVersion === '') {
    throw fail('bad-header', `distmlVersion must be a non-empty string, got ${describe(distmlVersion)}`);
  }
  if (typeof createdAt !== 'string' || !ISO_DATE.test(createdAt)) {
    throw fail('bad-header', `createdAt must be an ISO 8601 time, got ${describe(createdAt)}`);
  }
  if (!isPlainObject(params)) throw fail('bad-header', `params must be an object, got ${describe(params)}`);
  if (!isPlainObject(meta)) throw fail('bad-header', `meta must be an object, got ${describe(meta)}`);
  if (!isPlainObject(tensors)) {
    throw fail('bad-header', `tensors must be an object, got ${describe(tensors)}`);
  }
  if (typeof dataSha256 !== 'string' || !SHA256_HEX.test(dataSha256)) {
    throw fail('bad-header', `dataSha256 must be 64 lowercase hex digits, got ${describe(dataSha256)}`);
  }

  const entries: Record<string, TensorEntry> = {};
  for (const [name, entry] of Object.entries(tensors)) {
    entries[name] = checkTensorEntry(name, entry, dataLength, fail);
  }
  checkLayout(entries, dataLength, fail);
  return {
    format: FORMAT_NAME,
    formatVersion: MODEL_FORMAT_VERSION,
    kind,
    distmlVersion,
    createdAt,
    params,
    meta,
    tensors: entries,
    dataSha256,
  };
}

/**
 * Refuses a file over `maxFileBytes` before any of it is read.
 * @throws ModelFileError (`file-too-large`)
 */
export function checkFileSize(size: number, fileName: string, limits: ModelFileLimits = {}): void {
  const { maxFileBytes } = { ...DEFAULT_MODEL_FILE_LIMITS, ...limits };
  if (size > maxFileBytes) {
    const detail = `the file is ${size} bytes, over the limit of ${maxFileBytes} (maxFileBytes)`;
    throw failFor(fileName)('file-too-large', detail, 'raise maxFileBytes only if you trust this file');
  }
}

const CORRUPT = 'the file is corrupt; write it again from the model';

function failFor(fileName: string): Fail {
  return (fault, detail, hint) => new ModelFileError(fileName, fault, detail, hint);
}

function checkTensorForEncoding(name: string, tensor: Tensor, fail: Fail): Tensor {
  const where = `tensor '${name}'`;
  if (name === '') throw fail('bad-tensor', 'a tensor has an empty name');
  if (FORBIDDEN_KEYS.has(name)) throw fail('forbidden-key', `${where} has a name that is not allowed`);
  const { dtype, shape, data } = tensor;
  if (!(DTYPES as string[]).includes(dtype)) {
    throw fail('bad-tensor', `${where} has unknown dtype ${describe(dtype)} (known: ${DTYPES.join(', ')})`);
  }
  const Type = ARRAY_TYPE[dtype];
  if (!(data instanceof Type)) {
    throw fail(
      'bad-tensor',
      `${where} has dtype ${dtype} but its data is a ${describe(data)}, not a ${Type.name}`,
    );
  }
  const count = shapeSize(shape);
  if (count === undefined) {
    throw fail('bad-tensor', `${where} has shape ${describe(shape)}, not an array of non-negative integers`);
  }
  if (count !== data.length) {
    const detail = `${where} has shape [${shape.join(', ')}] (${count} values) but ${data.length} values of data`;
    throw fail('bad-tensor', detail);
  }
  return tensor;
}

function checkTensorEntry(name: string, entry: unknown, dataLength: number, fail: Fail): TensorEntry {
  const where = `tensor '${name}'`;
  if (name === '') throw fail('bad-tensor', 'a tensor has an empty name');
  if (!isPlainObject(entry)) throw fail('bad-tensor', `${where} must be an object, got ${describe(entry)}`);
  const unknown = Object.keys(entry).find((key) => !(TENSOR_FIELDS as readonly string[]).includes(key));
  if (unknown !== undefined) throw fail('bad-tensor', `${where} has unknown field '${unknown}'`);
  const { dtype, shape, offsets, sha256: digest } = entry;
  if (typeof dtype !== 'string' || !(DTYPES as string[]).includes(dtype)) {
    throw fail('bad-tensor', `${where} has unknown dtype ${describe(dtype)} (known: ${DTYPES.join(', ')})`);
  }
  const itemSize = ARRAY_TYPE[dtype as DType].BYTES_PER_ELEMENT;
  const count = shapeSize(shape);
  if (count === undefined) {
    throw fail('bad-tensor', `${where} has shape ${describe(shape)}, not an array of non-negative integers`);
  }
  if (
    !Array.isArray(offsets) ||
    offsets.length !== 2 ||
    !offsets.every((o) => Number.isSafeInteger(o) && (o as number) >= 0)
  ) {
    throw fail(
      'bad-tensor',
      `${where} has offsets ${describe(offsets)}, not [begin, end] as non-negative integers`,
    );
  }
  const [begin, end] = offsets as [number, number];
  if (end < begin) {
    throw fail('bad-tensor', `${where} has offsets [${begin}, ${end}] that end before they begin`);
  }
  if (begin % itemSize !== 0) {
    throw fail(
      'bad-tensor',
      `${where} begins at byte ${begin}, not a multiple of its ${itemSize}-byte ${dtype} items`,
    );
  }
  if (end - begin !== count * itemSize) {
    const detail = `${where} spans ${end - begin} bytes but shape [${(shape as number[]).join(', ')}] of ${dtype}`;
    throw fail('bad-tensor', `${detail} needs ${count * itemSize}`);
  }
  if (end > dataLength) {
    throw fail(
      'truncated',
      `${where} ends at data byte ${end} but the data section has only ${dataLength} bytes`,
    );
  }
  if (typeof digest !== 'string' || !SHA256_HEX.test(digest)) {
    throw fail('bad-tensor', `${where} has sha256 ${describe(digest)}, not 64 lowercase hex digits`);
  }
  return { dtype: dtype as DType, shape: shape as number[], offsets: [begin, end], sha256: digest };
}

/** Refuses overlapping byte ranges and bytes after the last tensor's padding. */
function checkLayout(entries: Record<string, TensorEntry>, dataLength: number, fail: Fail): void {
  // Empty tensors occupy no bytes, so they can overlap nothing.
  const ranges = Object.entries(entries)
    .filter(([, e]) => e.offsets[1] > e.offsets[0])
    .sort(([, a], [, b]) => a.offsets[0] - b.offsets[0]);
  let reach = 0;
  let reachName = '';
  for (const [name, { offsets }] of ranges) {
    if (offsets[0] < reach) {
      const detail = `tensor '${name}' [${offsets[0]}, ${offsets[1]}) overlaps tensor '${reachName}'`;
      throw fail('overlapping-tensors', `${detail}, which ends at ${reach}`);
    }
    reach = offsets[1];
    reachName = name;
  }
  const expected = alignUp(reach);
  if (dataLength < expected) {
    throw fail(
      'truncated',
      `the data section has ${dataLength} bytes, the tensors and their padding need ${expected}`,
    );
  }
  if (dataLength > expected) {
    const extra = dataLength - expected;
    throw fail('bad-tensor', `the data section has ${extra} bytes after the last tensor and its padding`);
  }
}

/** Number of values of a shape, or undefined when it is not a list of non-negative integers. */
function shapeSize(shape: unknown): number | undefined {
  if (!Array.isArray(shape)) return undefined;
  let count = 1;
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || (d as number) < 0) return undefined;
    count *= d as number;
  }
  return Number.isSafeInteger(count) ? count : undefined;
}

function alignUp(n: number): number {
  return Math.ceil(n / ALIGN) * ALIGN;
}

/**
 * Copies items between host order and little-endian. Byte moves, never number conversions, so NaN
 * payloads survive; on a big-endian host each item's bytes are reversed.
 */
function copyLittleEndian(src: Uint8Array, dst: Uint8Array, itemSize: number): void {
  if (HOST_LITTLE_ENDIAN || itemSize === 1) {
    dst.set(src);
    return;
  }
  for (let i = 0; i < src.length; i += itemSize) {
    for (let j = 0; j < itemSize; j++) dst[i + j] = src[i + itemSize - 1 - j]!;
  }
}
