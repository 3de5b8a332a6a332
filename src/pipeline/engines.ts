/**
 * Choosing an engine from user options: `workers` threads on this machine, or the serial engine.
 */
import type { Engine } from '../engine/engine.ts';
import { InlineEngine } from '../engine/inline-engine.ts';
import type { FaultSpec } from '../engine/local/faults.ts';
import { LocalEngine, type LocalEngineOptions } from '../engine/local/local-engine.ts';
import type { RedisEngineOptions } from '../engine/redis/redis-engine.ts';

/** Options of {@link createEngine}. */
export interface EngineChoice {
  /** Worker threads; 0 runs everything on the calling thread (the inline engine). @defaultValue 0 */
  readonly workers?: number;
  readonly faults?: readonly FaultSpec[];
  readonly maxHeapMb?: number;
  /** Overrides for the thread engine (tests tune timeouts and thresholds). */
  readonly local?: Partial<Omit<LocalEngineOptions, 'workers' | 'entry'>>;
  /** Train on a cluster of `distml worker` processes through this Redis instead of on threads. */
  readonly cluster?: RedisEngineOptions;
}

/** The module worker threads start with, as built (.js) or from source (.ts under tsx). */
export const WORKER_ENTRY = new URL(
  import.meta.url.endsWith('.ts') ? './worker-entry.ts' : './worker-entry.js',
  import.meta.url,
);

/** An engine for these options. */
export function createEngine(choice: EngineChoice = {}): Engine {
  const workers = choice.workers ?? 0;
  if (workers === 0) return new InlineEngine();
  return new LocalEngine({
    workers,
    entry: WORKER_ENTRY,
    ...(choice.faults === undefined ? {} : { faults: choice.faults }),
    ...(choice.maxHeapMb === undefined ? {} : { maxHeapMb: choice.maxHeapMb }),
    ...choice.local,
  });
}

/**
 * An engine for these options, connected: with `cluster`, waits until the cluster's Redis answers
 * and enough workers have joined; otherwise the same as {@link createEngine}.
 */
export async function connectEngine(choice: EngineChoice = {}): Promise<Engine> {
  if (choice.cluster !== undefined) {
    // Loaded on demand: bullmq and ioredis cost ~0.2 s of start-up that local runs should not pay.
    const { RedisEngine } = await import('../engine/redis/redis-engine.ts');
    return RedisEngine.connect(choice.cluster);
  }
  return createEngine(choice);
}

/** The module cluster workers start parameter-server loop threads with (see loop-thread.ts). */
export const LOOP_THREAD_ENTRY = new URL(
  import.meta.url.endsWith('.ts') ? './loop-thread-entry.ts' : './loop-thread-entry.js',
  import.meta.url,
);
