import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createConnection } from 'node:net';
import { test } from 'node:test';
import { channelKey, ResultSender, ResultServer } from './result-channel.ts';

const run = 'r1';
const key = channelKey(run, randomBytes(32), undefined);

test('results arrive intact, by attempt, over one connection, each acknowledged', async () => {
  const lines: string[] = [];
  const server = await ResultServer.open('127.0.0.1', key, (l) => lines.push(l));
  const sender = new ResultSender();
  try {
    // 1,000,000 floats cross many TCP chunks; a small one and a second attempt share the socket.
    const big = Float64Array.from({ length: 1_000_000 }, (_, i) => i * 0.5 - 3);
    server.expect('job-a', big.byteLength);
    server.expect('job-b', 24);
    await sender.send(server.address, key, 'job-a', 1, big);
    await Promise.all([
      sender.send(server.address, key, 'job-b', 1, new Float64Array([1, 2, 3])),
      sender.send(server.address, key, 'job-b', 2, new Float64Array([4, 5, 6])),
    ]);
    assert.deepEqual(server.take('job-a', 1), big);
    assert.deepEqual(server.take('job-b', 1), new Float64Array([1, 2, 3]));
    assert.deepEqual(server.take('job-b', 2), new Float64Array([4, 5, 6]));
    assert.equal(server.take('job-b', 3), undefined);
    assert.equal(server.refused, 0);
    assert.deepEqual(lines, []);
  } finally {
    sender.close();
    await server.close();
  }
});

test('a result for a task no longer expected is acknowledged and discarded', async () => {
  const server = await ResultServer.open('127.0.0.1', key, () => {});
  const sender = new ResultSender();
  try {
    server.expect('job-a', 16);
    server.forget('job-a');
    await sender.send(server.address, key, 'job-a', 1, new Float64Array([1, 2]));
    assert.equal(server.take('job-a', 1), undefined);
    assert.equal(server.discarded, 1);
  } finally {
    sender.close();
    await server.close();
  }
});

test('a worker without the key is refused and told so; a wrong-size result closes the connection', async () => {
  const lines: string[] = [];
  const server = await ResultServer.open('127.0.0.1', key, (l) => lines.push(l));
  const sender = new ResultSender();
  try {
    server.expect('job-a', 16);
    const wrongKey = channelKey(run, randomBytes(32), undefined);
    await assert.rejects(
      sender.send(server.address, wrongKey, 'job-a', 1, new Float64Array([1, 2]), 5000),
      /closed the result channel/,
    );
    assert.equal(server.take('job-a', 1), undefined);
    assert.match(
      lines.join('\n'),
      /refused a connection from 127\.0\.0\.1: its greeting does not prove the cluster key/,
    );
    await assert.rejects(
      sender.send(server.address, key, 'job-a', 1, new Float64Array([1, 2, 3]), 5000),
      /closed the result channel/,
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
  const server = await ResultServer.open('127.0.0.1', key, (l) => lines.push(l));
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
