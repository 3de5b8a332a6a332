/**
 * `distml worker --cluster URL [--threads N]`: a long-running process that joins a cluster and runs
 * up to N tasks at once, each kernel on a thread of its own, until SIGTERM or SIGINT; then it
 * finishes its current tasks, deregisters and exits 0.
 */
import { availableParallelism } from 'node:os';
import { Command } from 'commander';
import { parseFault } from '../../engine/local/faults.ts';
import { LOOP_THREAD_ENTRY, WORKER_ENTRY } from '../../pipeline/engines.ts';
import {
  addClusterOptions,
  type ClusterCliOptions,
  clusterConnection,
  clusterSecret,
} from '../cluster-options.ts';
import { collect, parsePositive } from '../options.ts';

interface WorkerOptions extends ClusterCliOptions {
  cluster: string;
  name?: string;
  lockMs?: number;
  threads: number;
  injectFault: string[];
}

/** The `worker` subcommand. */
export function workerCommand(): Command {
  const command = new Command('worker')
    .description('Join a cluster through Redis and run training tasks until stopped (SIGTERM)')
    .requiredOption(
      '--cluster <url>',
      'Redis of the cluster: redis://[user:password@]HOST:PORT or rediss:// for TLS',
    )
    .option('--name <name>', 'name shown in the driver telemetry (default HOST-PID)')
    .option(
      '--threads <n>',
      'tasks this process runs at once, each kernel on a thread of its own, and its weight in placement (a 4-thread worker is given 4× the partitions of a 1-thread one); one per core by default',
      parsePositive,
      availableParallelism(),
    )
    .option(
      '--lock-ms <ms>',
      'a worker silent this long (or 10 s, if shorter) is presumed dead: its partitions and tasks go to others',
      parsePositive,
      30000,
    )
    .option('--inject-fault <spec>', 'test fault, e.g. kill:worker=0,task=3', collect, []);
  return addClusterOptions(command).action(async (opts: WorkerOptions) => {
    const faults = opts.injectFault.map(parseFault);
    const secret = clusterSecret(opts);
    const log = (line: string) => process.stderr.write(`${new Date().toISOString()} ${line}\n`);
    // Listen before joining, so a SIGTERM that arrives while the worker starts is not lost.
    const stopRequested = new Promise<void>((resolve) => {
      process.once('SIGTERM', () => resolve());
      process.once('SIGINT', () => resolve());
    });
    if (secret === undefined) log('no cluster secret: task messages are not verified (see docs/cluster.md)');
    // Loaded on demand, so that other commands do not pay for bullmq and ioredis at start-up.
    const { startClusterWorker } = await import('../../engine/redis/cluster-worker.ts');
    // Registers the handlers with which workers read partitions from a shared source, and the
    // decoder of the frames a driver sends raw.
    await import('../../pipeline/source-tasks.ts');
    await import('../../pipeline/frame-partitions.ts');
    const worker = await startClusterWorker({
      ...clusterConnection(opts.cluster, opts),
      namespace: opts.namespace,
      lockMs: opts.lockMs ?? 30000,
      faults,
      loopEntry: LOOP_THREAD_ENTRY,
      threads: opts.threads,
      kernelEntry: WORKER_ENTRY,
      ...(opts.name === undefined ? {} : { name: opts.name }),
      ...(secret === undefined ? {} : { secret }),
      log,
    });
    await stopRequested;
    await worker.stop();
    // A worker that left without Redis (see stop) still has BullMQ connections retrying; nothing
    // is left to do, so the process ends here rather than when they give up.
    process.exit(process.exitCode ?? 0);
  });
}
