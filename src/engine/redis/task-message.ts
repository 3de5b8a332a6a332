/**
 * The message a cluster task carries, and its signature. BullMQ stores job data as JSON, so a task
 * names binary keys (partition, arguments) rather than holding tensors. With a cluster secret
 * every message is signed with HMAC-SHA256 over all its fields and a fresh nonce; a worker that
 * holds the secret refuses unsigned and tampered messages, and replay-guard.ts refuses a signed
 * message put back on the queue as another job, by its job id (which the signature covers) and its
 * nonce (claimed once in Redis).
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Plain } from '../source-tasks.ts';

/** Version of the message layout; a worker refuses other versions. */
export const TASK_MESSAGE_VERSION = 2;

/**
 * The lineage of a partition its workers read from a source: which handlers read it, what to read
 * (the split, plain data) and the Redis key of the spec (the preprocessing plan, and for a score
 * the model), with the SHA-256 of the spec's bytes: signed with the message, so a spec changed in
 * Redis is refused even though the value itself is not signed.
 */
export interface MessageLineage {
  readonly handlers: string;
  readonly split: Plain;
  readonly specKey: string;
  /** Hex SHA-256 of the spec value's bytes. */
  readonly specDigest: string;
}

/**
 * How a worker decodes the partitions of a placement the driver sent raw (see ../raw-partitions.ts):
 * the decoder's registry name and the Redis key of the spec, with the SHA-256 of its bytes, signed
 * with the message like a lineage's.
 */
export interface MessageDecoder {
  readonly name: string;
  readonly specKey: string;
  /** Hex SHA-256 of the spec value's bytes. */
  readonly specDigest: string;
}

/** A task as it travels through the queue. */
export interface TaskMessage {
  readonly v: number;
  readonly run: string;
  readonly step: number;
  readonly partition: number;
  readonly jobId: string;
  readonly kernel: string;
  readonly placement: string;
  /** Key of the msgpack-encoded kernel arguments. */
  readonly argsKey: string;
  readonly resultLength: number;
  /** Present when the partition is read from a source rather than stored in Redis. */
  readonly lineage?: MessageLineage;
  /**
   * A loop slot's task on partitions read from a source: the lineage of each partition the slot
   * owns, in partition order (slot, slot + W, …).
   */
  readonly lineages?: readonly MessageLineage[];
  /** Present when the placement's partitions are raw, for the worker to decode. */
  readonly decoder?: MessageDecoder;
  /**
   * `host:port` of the driver's task channel (task-channel.ts), when it has one: the worker then
   * fetches the arguments, the partition (unless it has a lineage) and broadcasts from there, and
   * sends the result of a pass task there.
   */
  readonly channel?: string;
  /** Key of the task channel (hex), when there is no cluster secret to derive it from. */
  readonly channelToken?: string;
  /**
   * Hex SHA-256 of the driver's values the task may read from Redis (its arguments, the
   * placement's partitions, the broadcasts), by key: under a cluster secret without the task
   * channel, so that a value changed in Redis is refused like a changed message.
   */
  readonly digests?: Readonly<Record<string, string>>;
  readonly nonce: string;
  /** HMAC-SHA256 (hex) of every other field, or absent without a cluster secret. */
  readonly sig?: string;
}

/**
 * Why a worker refused a message. `replayed`: a signed message seen before in another job (see
 * replay-guard.ts), decided by the worker against Redis rather than by {@link checkTaskMessage}.
 */
export type RefusalReason = 'unsigned' | 'bad-signature' | 'bad-version' | 'malformed' | 'replayed';

function canonical(m: Omit<TaskMessage, 'sig'>): string {
  // The lineage is signed too: a forged one could make a worker read any file it can reach.
  const lineage = m.lineage === undefined ? [] : [m.lineage];
  const lineages = m.lineages === undefined ? [] : [{ lineages: m.lineages }];
  // A forged decoder or spec would make a worker build another matrix than the driver placed.
  const decoder = m.decoder === undefined ? [] : [{ decoder: m.decoder }];
  // So is the task channel's address: a forged one would send results to someone else.
  const channel = m.channel === undefined ? [] : [m.channel, m.channelToken ?? ''];
  // And the values' digests: without them, tensors in Redis could be changed unseen.
  const digests = m.digests === undefined ? [] : [{ digests: m.digests }];
  return JSON.stringify([
    ...lineage,
    ...lineages,
    ...decoder,
    ...channel,
    ...digests,
    m.v,
    m.run,
    m.step,
    m.partition,
    m.jobId,
    m.kernel,
    m.placement,
    m.argsKey,
    m.resultLength,
    m.nonce,
  ]);
}

/** A message with a fresh nonce, signed when `secret` is given. */
export function makeTaskMessage(
  fields: Omit<TaskMessage, 'v' | 'nonce' | 'sig'>,
  secret?: Buffer,
): TaskMessage {
  const unsigned = { v: TASK_MESSAGE_VERSION, ...fields, nonce: randomBytes(12).toString('hex') };
  if (secret === undefined) return unsigned;
  return { ...unsigned, sig: createHmac('sha256', secret).update(canonical(unsigned)).digest('hex') };
}

/**
 * Checks a message that came off the queue. Returns the refusal reason, or undefined when the
 * message may run. Without a secret every well-formed message runs.
 */
export function checkTaskMessage(data: unknown, secret?: Buffer): RefusalReason | undefined {
  if (typeof data !== 'object' || data === null) return 'malformed';
  const m = data as Partial<TaskMessage>;
  if (m.v !== TASK_MESSAGE_VERSION) return 'bad-version';
  if (
    typeof m.run !== 'string' ||
    typeof m.jobId !== 'string' ||
    typeof m.kernel !== 'string' ||
    typeof m.placement !== 'string' ||
    typeof m.argsKey !== 'string' ||
    typeof m.nonce !== 'string' ||
    !Number.isSafeInteger(m.step) ||
    !Number.isSafeInteger(m.partition) ||
    !Number.isSafeInteger(m.resultLength) ||
    (m.lineage !== undefined && !isLineage(m.lineage)) ||
    (m.lineages !== undefined && !(Array.isArray(m.lineages) && m.lineages.every(isLineage))) ||
    (m.decoder !== undefined && !isDecoder(m.decoder)) ||
    (m.channel !== undefined && typeof m.channel !== 'string') ||
    (m.channelToken !== undefined && !/^[0-9a-f]{64}$/.test(String(m.channelToken))) ||
    (m.digests !== undefined && !isDigests(m.digests))
  ) {
    return 'malformed';
  }
  if (secret === undefined) return undefined;
  if (typeof m.sig !== 'string') return 'unsigned';
  const expected = createHmac('sha256', secret)
    .update(canonical(m as TaskMessage))
    .digest();
  const given = Buffer.from(m.sig, 'hex');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return 'bad-signature';
  return undefined;
}

function isLineage(l: unknown): l is MessageLineage {
  if (typeof l !== 'object' || l === null) return false;
  const x = l as Partial<MessageLineage>;
  return typeof x.handlers === 'string' && namesSpec(x) && x.split !== undefined;
}

function isDecoder(d: unknown): d is MessageDecoder {
  if (typeof d !== 'object' || d === null) return false;
  const x = d as Partial<MessageDecoder>;
  return typeof x.name === 'string' && namesSpec(x);
}

/** Whether `x` names a spec value by key and hex SHA-256. */
function namesSpec(x: { readonly specKey?: unknown; readonly specDigest?: unknown }): boolean {
  return (
    typeof x.specKey === 'string' && typeof x.specDigest === 'string' && /^[0-9a-f]{64}$/.test(x.specDigest)
  );
}

function isDigests(d: unknown): boolean {
  if (typeof d !== 'object' || d === null || Array.isArray(d)) return false;
  return Object.values(d).every((x) => typeof x === 'string' && /^[0-9a-f]{64}$/.test(x));
}
