/**
 * The process that checkpoint.test.ts kills with SIGKILL at random instants: it resumes from the
 * newest checkpoint in the directory given as its argument and saves steps after it in a loop,
 * printing `ready <step>` once it has resumed and `saved <step>` after each save resolves. Tensor
 * values are a function of the step, so the test can check any checkpoint it finds.
 *
 * Run: node --import tsx src/engine/checkpoint.crash-child.ts DIR
 */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type CheckpointState, CheckpointStore } from './checkpoint.ts';

/** The run id every crash-test process uses, so each resumes the one before. */
export const CRASH_RUN_ID = 'crash-test';

/** Values per tensor: large enough (1.6 MB) that a save takes a few milliseconds. */
const VALUES = 200_000;

/** The state the crash child saves at `step`. */
export function crashTestState(step: number): CheckpointState {
  const weights = new Float64Array(VALUES);
  for (let i = 0; i < VALUES; i++) weights[i] = step * 1_000_003 + i;
  return {
    step,
    tensors: { weights, bias: Float64Array.of(step, -step, -0) },
    meta: { step, note: `state after step ${step}` },
  };
}

async function main(dir: string): Promise<void> {
  // Warnings go to stdout so the parent sees them in order with the saves, and can refuse them.
  const store = new CheckpointStore(dir, {
    keep: 2,
    runId: CRASH_RUN_ID,
    onWarning: (message) => process.stdout.write(`warning ${message}\n`),
  });
  const resumed = (await store.latest())?.step ?? 0;
  process.stdout.write(`ready ${resumed}\n`);
  for (let step = resumed + 1; ; step++) {
    await store.save(crashTestState(step));
    process.stdout.write(`saved ${step}\n`);
  }
}

// The test imports crashTestState from this file; only a direct run starts the loop.
const dir = process.argv[2];
if (dir !== undefined && resolve(process.argv[1] ?? '') === fileURLToPath(import.meta.url)) await main(dir);
