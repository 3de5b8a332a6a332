import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createConnection, createServer } from 'node:net';
import { test } from 'node:test';
import { channelKey } from './channel-frames.ts';
import { DriverChannel } from './task-channel.ts';
import { WorkerChannels } from './worker-channels.ts';

const run = 'r1';
const key = channelKey(run, randomBytes(32), undefined);
const facts = { runSeconds: 0.5, worker: 'w', workerId: 'abc' };

test('results arrive intact, by attempt, over one connection, each acknowledged', async () => {
  const lines: string[] = [];
  const server = await DriverChannel.open('127.0.0.1', key, (l) => lines.push(l));
  const sender = new WorkerChannels('w1');
  const arrived: string[] = [];
  server.onResult = (jobId, attempt, f) =>
    arrived.push(`${jobId}#${attempt} by ${f.worker} in ${f.runSeconds} s`);
  try {
    // 1,000,000 floats cross many TCP chunks; a small one and a second attempt share the socket.
    const big = Float64Array.from({ length: 1_000_000 }, (_, i) => i * 0.5 - 3);
    server.expect('job-a', big.byteLength);
    server.expect('job-b', 24);
    await sender.send(server.address, key, 'job-a', 1, big, facts);
    await Promise.all([
      sender.send(server.address, key, 'job-b', 1, new Float64Array([1, 2, 3]), facts),
      sender.send(server.address, key, 'job-b', 2, new Float64Array([4, 5, 6]), facts),
    ]);
    assert.deepEqual(server.take('job-a', 1), big);
    assert.deepEqual(server.take('job-b', 1), new Float64Array([1, 2, 3]));
    assert.deepEqual(server.take('job-b', 2), new Float64Array([4, 5, 6]));
    assert.equal(server.take('job-b', 3), undefined);
    assert.deepEqual(arrived.sort(), [
      'job-a#1 by w in 0.5 s',
      'job-b#1 by w in 0.5 s',
      'job-b#2 by w in 0.5 s',
    ]);
    assert.equal(server.refused, 0);
    assert.deepEqual(lines, []);
  } finally {
    sender.close();
    await server.close();
  }
});

test('a result for a task no longer expected is acknowledged and discarded', async () => {
  const server = await DriverChannel.open('127.0.0.1', key, () => {});
  const sender = new WorkerChannels('w1');
  try {
    server.expect('job-a', 16);
    server.forget('job-a');
    await sender.send(server.address, key, 'job-a', 1, new Float64Array([1, 2]), facts);
    assert.equal(server.take('job-a', 1), undefined);
    assert.equal(server.discarded, 1);
    assert.equal(server.bytesReceived, 0);
  } finally {
    sender.close();
    await server.close();
  }
});

test('a worker without the key is refused and told so; a wrong-size result closes the connection', async () => {
  const lines: string[] = [];
  const server = await DriverChannel.open('127.0.0.1', key, (l) => lines.push(l));
  const sender = new WorkerChannels('w1');
  try {
    server.expect('job-a', 16);
    const wrongKey = channelKey(run, randomBytes(32), undefined);
    await assert.rejects(
      sender.send(server.address, wrongKey, 'job-a', 1, new Float64Array([1, 2]), facts, 5000),
      /closed the task channel/,
    );
    assert.equal(server.take('job-a', 1), undefined);
    assert.match(
      lines.join('\n'),
      /refused a connection from 127\.0\.0\.1: its greeting does not prove the cluster key/,
    );
    await assert.rejects(
      sender.send(server.address, key, 'job-a', 1, new Float64Array([1, 2, 3]), facts, 5000),
      /closed the task channel/,
    );
    assert.match(lines.join('\n'), /a result of 24 bytes for job-a, expected 16/);
    assert.equal(server.refused, 2);
  } finally {
    sender.close();
    await server.close();
  }
});

test('an oversized frame header is refused before it is buffered', async () => {
  const lines: string[] = [];
  const server = await DriverChannel.open('127.0.0.1', key, (l) => lines.push(l));
  try {
    const socket = createConnection({ host: '127.0.0.1', port: server.port });
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    socket.on('error', () => {});
    // Flowing, so that the server's close is read and reported.
    socket.resume();
    const length = Buffer.alloc(4);
    length.writeUInt32LE(1 << 30);
    socket.write(length);
    await closed;
    assert.match(lines.join('\n'), /a frame header of 1073741824 bytes \(at most 4096\)/);
  } finally {
    await server.close();
  }
});

test('without a cluster secret the key is the run token; with one it is derived per run', () => {
  const token = randomBytes(32).toString('hex');
  assert.deepEqual(channelKey(run, undefined, token), Buffer.from(token, 'hex'));
  const secret = randomBytes(32);
  assert.notDeepEqual(channelKey('r1', secret, undefined), channelKey('r2', secret, undefined));
  assert.throws(() => channelKey(run, undefined, undefined), /needs the cluster secret or a run token/);
});

test('workers fetch served values (pieces concatenated, aligned, not copied on the driver) until withdrawn', async () => {
  const server = await DriverChannel.open('127.0.0.1', key, () => {});
  const worker = new WorkerChannels('w1');
  try {
    const X = Float64Array.from({ length: 1_000_000 }, (_, i) => i / 7);
    const y = new Float64Array([1, 0, 1]);
    const head = new Float64Array([3, 2]);
    const bytes = (v: Float64Array) => new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
    server.serve('part', [bytes(head), bytes(X), bytes(y)]);
    server.serve('small', [new Uint8Array([1, 2, 3])]);
    // Two fetches at once share the connection; each answer finds its own request.
    const [part, small] = await Promise.all([
      worker.fetch(server.address, key, 'part'),
      worker.fetch(server.address, key, 'small'),
    ]);
    assert.ok(part !== null && small !== null);
    assert.equal(part.byteOffset % 8, 0);
    const values = new Float64Array(part.buffer, part.byteOffset, part.byteLength / 8);
    assert.deepEqual(values.subarray(0, 2), head);
    assert.deepEqual(values.subarray(2, 2 + X.length), X);
    assert.deepEqual(values.subarray(2 + X.length), y);
    assert.deepEqual([...small], [1, 2, 3]);
    assert.equal(server.served, 2);
    assert.equal(server.bytesServed, (2 + X.length + 3) * 8 + 3);
    server.withdraw('part');
    assert.equal(await worker.fetch(server.address, key, 'part'), null);
    assert.equal(await worker.fetch(server.address, key, 'never-served'), null);
  } finally {
    worker.close();
    await server.close();
  }
});

test('a worker refuses a server that cannot prove the cluster key, and takes nothing from it', async () => {
  // A server that greets like the driver and welcomes anyone, without knowing the key.
  const impostor = createServer((socket) => {
    socket.on('error', () => {});
    const frame = (h: object) => {
      const json = Buffer.from(JSON.stringify(h));
      const length = Buffer.alloc(4);
      length.writeUInt32LE(json.byteLength);
      socket.write(Buffer.concat([length, json]));
    };
    frame({ nonce: randomBytes(16).toString('hex') });
    socket.once('data', () => frame({ welcome: true, proof: randomBytes(32).toString('hex') }));
  });
  await new Promise<void>((resolve) => impostor.listen(0, '127.0.0.1', () => resolve()));
  const address = impostor.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  const worker = new WorkerChannels('w1');
  try {
    await assert.rejects(
      worker.fetch(`127.0.0.1:${port}`, key, 'part', 5000),
      /does not prove the cluster key: not the driver/,
    );
  } finally {
    worker.close();
    await new Promise<void>((resolve) => impostor.close(() => resolve()));
  }
});

test("a pass's arguments pushed to a task's owner are there when it asks; one it dropped is sent again", async () => {
  const server = await DriverChannel.open('127.0.0.1', key, () => {});
  const worker = new WorkerChannels('w1');
  const bytes = (n: number) => [new Uint8Array(new Float64Array(1000).fill(n).buffer)];
  try {
    // Not connected yet: nothing to push to.
    server.serve('a', bytes(1));
    assert.equal(server.push('w1', 'a'), false);
    assert.ok((await worker.fetch(server.address, key, 'a')) !== null);
    assert.equal(server.push('w1', 'a'), false, 'fetched by the worker already: not pushed again');
    server.serve('b', bytes(2));
    assert.equal(server.push('w1', 'b'), true);
    assert.equal(server.push('w1', 'b'), false, 'pushed once per connection');
    assert.equal(server.push('w2', 'b'), false, 'no such worker');
    const b = await worker.fetch(server.address, key, 'b');
    assert.equal(new Float64Array(b!.buffer, b!.byteOffset, 1000)[999], 2);
    assert.deepEqual([server.served, server.pushed], [2, 1]);
    // Four more pushes drop 'b' from the worker's few: asked for, it is sent once more.
    for (let i = 3; i <= 6; i++) {
      server.serve(`c${i}`, bytes(i));
      server.push('w1', `c${i}`);
    }
    assert.ok((await worker.fetch(server.address, key, 'c6')) !== null);
    const again = await worker.fetch(server.address, key, 'b');
    assert.equal(new Float64Array(again!.buffer, again!.byteOffset, 1000)[0], 2);
    assert.deepEqual([server.served, server.pushed], [7, 5]);
  } finally {
    worker.close();
    await server.close();
  }
});
