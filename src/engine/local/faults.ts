/**
 * Fault injection for tests and for `distml train --inject-fault SPEC`: make a worker die, stall,
 * throw or return NaN at a chosen task, deterministically. Each fault fires once, in the worker
 * slot it names; a replacement worker does not repeat a fault that already fired.
 *
 * Spec text (repeatable): `KIND:worker=K,task=T[,ms=M]`
 * - `kill`  — the worker thread exits when it receives its T-th task (1-based) of the run;
 * - `delay` — the worker sleeps M ms before running its T-th task (a straggler);
 * - `throw` — the kernel throws on the T-th task;
 * - `nan`   — the T-th task's result is NaN;
 * - `slow`  — from its T-th task on, each of the worker's kernels takes M ms longer, counted in
 *   its kernel time: a slower machine, for placement by measured speed (the other kinds fire once).
 */
import { UsageError } from '../../errors.ts';

/** The kinds of fault. */
export type FaultKind = 'kill' | 'delay' | 'throw' | 'nan' | 'slow';

/** One injected fault. */
export interface FaultSpec {
  readonly kind: FaultKind;
  /** Worker slot, 0-based. */
  readonly worker: number;
  /** The worker's task count (1-based) at which the fault fires. */
  readonly task: number;
  /** Sleep for `delay` (once) or `slow` (every task from `task` on), in milliseconds. */
  readonly ms?: number;
}

const KINDS: readonly FaultKind[] = ['kill', 'delay', 'throw', 'nan', 'slow'];

/** Parses `KIND:worker=K,task=T[,ms=M]`. @throws UsageError naming the bad text */
export function parseFault(text: string): FaultSpec {
  const [kind, rest = ''] = text.split(':', 2);
  if (!KINDS.includes(kind as FaultKind)) {
    throw new UsageError(
      `--inject-fault '${text}': unknown kind '${kind}'`,
      `use one of ${KINDS.join(', ')}`,
    );
  }
  const fields = new Map<string, number>();
  for (const pair of rest.split(',').filter(Boolean)) {
    const [key, value] = pair.split('=', 2);
    const n = Number(value);
    if (key === undefined || !['worker', 'task', 'ms'].includes(key) || !Number.isInteger(n) || n < 0) {
      throw new UsageError(
        `--inject-fault '${text}': bad field '${pair}'`,
        'expected worker=K,task=T[,ms=M] with whole numbers',
      );
    }
    fields.set(key, n);
  }
  const worker = fields.get('worker');
  const task = fields.get('task');
  if (worker === undefined || task === undefined || task < 1) {
    throw new UsageError(`--inject-fault '${text}' needs worker=K and task=T (T ≥ 1)`);
  }
  if ((kind === 'delay' || kind === 'slow') && fields.get('ms') === undefined)
    throw new UsageError(`--inject-fault '${text}' needs ms=M`);
  const ms = fields.get('ms');
  return { kind: kind as FaultKind, worker, task, ...(ms === undefined ? {} : { ms }) };
}

/** Worker-side: which one-off fault (not `slow`), if any, fires at this worker's `taskNumber`-th task. */
export function faultAt(faults: readonly FaultSpec[], taskNumber: number): FaultSpec | undefined {
  return faults.find((f) => f.kind !== 'slow' && f.task === taskNumber);
}

/** Worker-side: the milliseconds `slow` faults add to the kernel of this worker's `taskNumber`-th task. */
export function slowdownAt(faults: readonly FaultSpec[], taskNumber: number): number {
  let ms = 0;
  for (const f of faults) if (f.kind === 'slow' && taskNumber >= f.task) ms += f.ms ?? 0;
  return ms;
}
