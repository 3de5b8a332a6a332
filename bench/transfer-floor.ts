/**
 * The floor under the cluster benchmark's sync cost: the bytes of one BSP pass moved between plain
 * Node processes over loopback TCP, with no queue, no engine, no checks and no sum. A driver sends a
 * vector of `length` float64s to each of `processes` child processes, and each sends a vector of
 * the same size back once it has the whole one; a pass ends when the driver holds every answer.
 * Both ends read the way the task channel does, straight into their buffers (the driver's accepted
 * connections through accepted-onread.ts), so the engine's sync cost over this floor is what the
 * engine adds.
 *
 * Run by bench/cluster-child.ts in the same run as the engine's passes, or alone:
 * `npx tsx bench/transfer-floor.ts [length] [processes] [passes]` prints the per-pass times.
 */
import { fork } from 'node:child_process';
import { createConnection, createServer, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { readAccepted } from '../src/engine/redis/accepted-onread.ts';

const SELF = fileURLToPath(import.meta.url);

/**
 * Milliseconds of each of `passes` timed passes (after `warmup` untimed ones) moving `length`
 * float64s to and from each of `processes` child processes.
 */
export async function measureTransferFloor(
  length: number,
  processes: number,
  passes: number,
  warmup: number,
): Promise<number[]> {
  const bytes = length * 8;
  const vector = new Uint8Array(new Float64Array(length).fill(1).buffer);
  const server = createServer({ pauseOnConnect: true });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const sockets: Socket[] = [];
  const filled = new Array<number>(processes).fill(0);
  const targets = Array.from({ length: processes }, () => new Uint8Array(bytes));
  const spare = new Uint8Array(64 * 1024);
  let answered = 0;
  let passDone: (() => void) | undefined;
  const connected = new Promise<void>((resolve) => {
    server.on('connection', (accepted) => {
      const i = sockets.length;
      const arrived = (n: number) => {
        filled[i]! += n;
        if (filled[i] === bytes && ++answered === processes) passDone?.();
      };
      const socket = readAccepted(
        accepted,
        {
          buffer: () => (filled[i]! < bytes ? targets[i]!.subarray(filled[i]) : spare),
          callback: (n) => {
            arrived(n);
            return true;
          },
        },
        (s) =>
          s.on('data', (chunk: Buffer) => {
            targets[i]!.set(chunk, filled[i]);
            arrived(chunk.byteLength);
          }),
      );
      socket.setNoDelay(true);
      sockets.push(socket);
      if (sockets.length === processes) resolve();
    });
  });
  const children = Array.from({ length: processes }, () =>
    fork(SELF, ['--child', String(port), String(bytes)], { execArgv: ['--import', 'tsx'] }),
  );
  try {
    await connected;
    const times: number[] = [];
    for (let pass = 0; pass < warmup + passes; pass++) {
      filled.fill(0);
      answered = 0;
      const done = new Promise<void>((resolve) => {
        passDone = resolve;
      });
      const started = performance.now();
      for (const socket of sockets) socket.write(vector);
      await done;
      if (pass >= warmup) times.push(performance.now() - started);
    }
    return times;
  } finally {
    for (const child of children) child.kill();
    for (const socket of sockets) socket.destroy();
    server.close();
  }
}

/** A child: reads each whole vector straight into its buffer, then answers one of the same size. */
function child(port: number, bytes: number): void {
  const inbox = new Uint8Array(new SharedArrayBuffer(bytes));
  const answer = new Uint8Array(new SharedArrayBuffer(bytes)).fill(2);
  const spare = new Uint8Array(64 * 1024);
  let filled = 0;
  const socket = createConnection({
    port,
    host: '127.0.0.1',
    onread: {
      buffer: () => (filled < bytes ? inbox.subarray(filled) : spare),
      callback: (n) => {
        filled += n;
        if (filled === bytes) {
          filled = 0;
          socket.write(answer);
        }
        return true;
      },
    },
  });
  socket.setNoDelay(true);
  socket.on('error', () => process.exit(0));
  socket.on('close', () => process.exit(0));
}

if (process.argv[2] === '--child') child(Number(process.argv[3]), Number(process.argv[4]));
else if (process.argv[1] === SELF) {
  const [length = 1_000_000, processes = 3, passes = 15] = process.argv.slice(2).map(Number);
  const times = await measureTransferFloor(length, processes, passes, 2);
  const sorted = [...times].sort((a, b) => a - b);
  process.stdout.write(
    `${JSON.stringify({ length, processes, ms: times.map((t) => +t.toFixed(2)), median: sorted[sorted.length >> 1] })}\n`,
  );
}
