/**
 * Reading an accepted connection into memory the reader gives, as `net.createConnection`'s
 * `onread` option does for connections a process opens itself. Node offers `onread` only there
 * (nodejs/node#25436), yet the driver's task channel receives megabytes of results on connections
 * it accepts: taken in Node's 64 KiB chunks and copied over one by one, the three results of a
 * 1,000,000-float pass arrived 10–15 ms later than when read straight into their buffers
 * (bench/transfer-floor.ts, both ways, same run).
 *
 * The accepted socket's handle is moved into a new `net.Socket` built with `onread`, the way Node
 * builds its own sockets around handles. That handle is not a public field: where it is missing
 * (another runtime, a later Node), the connection is read from its chunks as before, the same
 * bytes only slower.
 */
import { type OnReadOpts, Socket } from 'node:net';

/** The accepted socket's handle, where Node keeps it (lib/net.js). */
interface WithHandle {
  _handle: unknown;
}

/**
 * A socket reading `accepted`'s connection through `onread`; where the handle cannot be moved,
 * `accepted` itself, handed to `readChunks` to be read as usual. `accepted` must come from a
 * server created with `pauseOnConnect: true`, so that no byte was read before the move; the socket
 * returned is flowing. Closing the new socket destroys `accepted` too, so that the server's count
 * of connections drops.
 */
export function readAccepted(accepted: Socket, onread: OnReadOpts, readChunks: (s: Socket) => void): Socket {
  const holder = accepted as unknown as WithHandle;
  const handle = holder._handle;
  if (typeof handle !== 'object' || handle === null || !('useUserBuffer' in handle)) {
    readChunks(accepted);
    accepted.resume();
    return accepted;
  }
  holder._handle = null;
  const socket = new Socket({ handle, readable: true, writable: true, onread } as ConstructorParameters<
    typeof Socket
  >[0]);
  socket.once('close', () => accepted.destroy());
  socket.resume();
  return socket;
}
