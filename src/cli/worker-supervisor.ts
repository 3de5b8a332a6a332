/**
 * `distml worker --threads N` with N > 1: one worker process per slot, each a plain
 * `distml worker` that registers itself, so a task's kernel has a core of its own (kernels are
 * synchronous; processes are what runs them side by side). The supervisor forwards SIGTERM and
 * SIGINT, replaces a worker that dies unexpectedly, and exits when every worker has left.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { hostname } from 'node:os';

/** Options of {@link superviseWorkers}. */
export interface SupervisorOptions {
  /** Worker processes to run. */
  readonly slots: number;
  /** Base name; slot i is named `${name}-${i}`. */
  readonly name?: string;
  /** The `worker` arguments to pass on, without --threads and --name. */
  readonly args: readonly string[];
  readonly log: (line: string) => void;
}

/** Most replacements per slot, so a worker that cannot start does not restart forever. */
const MAX_RESTARTS = 5;

/** Runs `slots` worker processes until SIGTERM or SIGINT; resolves with the exit status. */
export async function superviseWorkers(o: SupervisorOptions): Promise<number> {
  const base = o.name ?? `${hostname()}-${process.pid}`;
  let stopping = false;
  const children = new Set<ChildProcess>();
  const exits: Promise<number>[] = [];
  const start = (slot: number, restarts: number): Promise<number> => {
    const child = spawn(
      process.execPath,
      [
        ...process.execArgv,
        process.argv[1]!,
        'worker',
        ...o.args,
        '--threads',
        '1',
        '--name',
        `${base}-${slot}`,
      ],
      { stdio: ['ignore', 'inherit', 'inherit'] },
    );
    children.add(child);
    return new Promise<number>((resolve) => {
      child.on('exit', (code, signal) => {
        children.delete(child);
        if (stopping || code === 0) {
          resolve(code ?? 1);
          return;
        }
        if (restarts >= MAX_RESTARTS) {
          o.log(
            `worker ${base}-${slot} died ${restarts + 1} times (last: ${signal ?? `exit ${code}`}); not restarting it`,
          );
          resolve(1);
          return;
        }
        o.log(`worker ${base}-${slot} died (${signal ?? `exit ${code}`}); starting a replacement`);
        resolve(start(slot, restarts + 1));
      });
    });
  };
  const stop = () => {
    stopping = true;
    for (const child of children) child.kill('SIGTERM');
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  for (let slot = 1; slot <= o.slots; slot++) exits.push(start(slot, 0));
  const codes = await Promise.all(exits);
  return Math.max(0, ...codes);
}

/** `argv` without the options the supervisor sets itself for each worker. */
export function workerArgsWithout(argv: readonly string[], options: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const name = arg.split('=', 1)[0]!;
    if (options.includes(name)) {
      if (!arg.includes('=')) i++;
      continue;
    }
    out.push(arg);
  }
  return out;
}
