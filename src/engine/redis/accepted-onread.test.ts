import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createConnection, createServer, type Socket } from 'node:net';
import { test } from 'node:test';
import { readAccepted } from './accepted-onread.ts';

test('an accepted connection reads into the memory its reader gives, answers, and closes with its server', async () => {
  const sent = Uint8Array.from({ length: 3_000_000 }, (_, i) => (i * 7) % 253);
  const inbox = new Uint8Array(sent.byteLength);
  let filled = 0;
  let foreign = 0;
  const spare = new Uint8Array(1024);
  let arrived!: (socket: Socket) => void;
  const received = new Promise<Socket>((resolve) => {
    arrived = resolve;
  });
  const server = createServer({ pauseOnConnect: true }, (accepted) => {
    const socket = readAccepted(
      accepted,
      {
        buffer: () => (filled < inbox.byteLength ? inbox.subarray(filled) : spare),
        callback: (bytes, buffer) => {
          // Every read lands in the memory handed out, never in a chunk of Node's.
          if (buffer.buffer !== inbox.buffer && buffer !== spare) foreign++;
          filled += bytes;
          if (filled === inbox.byteLength) arrived(socket);
          return true;
        },
      },
      () => assert.fail('the handle was not moved: the connection was read from its chunks'),
    );
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  const client = createConnection({ port, host: '127.0.0.1' });
  client.write(sent);
  const socket = await received;
  assert.equal(foreign, 0);
  assert.deepEqual(inbox, sent);
  // The moved socket writes too.
  socket.write('ok');
  const [answer] = (await once(client, 'data')) as [Buffer];
  assert.equal(answer.toString(), 'ok');
  // Once its connection is over, the server closes: the socket left behind was destroyed with it.
  client.end();
  await once(socket, 'close');
  await new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
});
