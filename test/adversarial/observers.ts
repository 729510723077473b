// What the tests watch for an attack's effect, each with a sentinel instead of a timeout: the
// test's own connection or datagram goes through the same kernel queue after the attacker's, so
// when the sentinel has arrived, anything the attacker sent before it has arrived too.
import { type ChildProcess, spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { once } from 'node:events';
import net from 'node:net';

export interface StreamWatch {
  /** The TCP port (0 for a unix socket). */
  readonly port: number;
  /** Connections accepted before the sentinel connection (the attacker's). */
  accepted(): Promise<number>;
  close(): Promise<void>;
}

/** A listener on a loopback address (TCP) or a unix socket path. */
export async function watchStream(
  where: { readonly host: string } | { readonly path: string } = { host: '127.0.0.1' },
): Promise<StreamWatch> {
  let count = 0;
  let onSentinel: (() => void) | undefined;
  const server = net.createServer((socket) => {
    count++;
    socket.once('data', (data) => {
      if (data.toString() === 'sentinel') onSentinel?.();
      socket.destroy();
    });
    socket.on('error', () => {});
  });
  if ('path' in where) server.listen(where.path);
  else server.listen(0, where.host);
  await once(server, 'listening');
  const port = 'path' in where ? 0 : (server.address() as net.AddressInfo).port;
  return {
    port,
    async accepted() {
      const seen = new Promise<void>((resolve) => {
        onSentinel = resolve;
      });
      const sentinel =
        'path' in where
          ? net.connect(where.path, () => sentinel.write('sentinel'))
          : net.connect(port, where.host, () => sentinel.write('sentinel'));
      sentinel.on('error', () => {});
      await seen;
      return count - 1;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export interface UdpWatch {
  readonly port: number;
  /** Datagrams received before the test's own sentinel datagram. */
  received(): Promise<Buffer[]>;
  close(): void;
}

export async function watchUdp(): Promise<UdpWatch> {
  const socket = dgram.createSocket('udp4');
  const messages: Buffer[] = [];
  let onSentinel: (() => void) | undefined;
  socket.on('message', (message) => {
    if (message.toString() === 'sentinel') onSentinel?.();
    else messages.push(message);
  });
  socket.bind(0, '127.0.0.1');
  await once(socket, 'listening');
  const port = socket.address().port;
  return {
    port,
    async received() {
      const seen = new Promise<void>((resolve) => {
        onSentinel = resolve;
      });
      socket.send('sentinel', port, '127.0.0.1');
      await seen;
      return messages;
    },
    close: () => socket.close(),
  };
}

/** A process of the test's own (not the service's), for signal attacks; it answers pings. */
export async function sleeper(): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    ['-e', "process.on('message', (m) => process.send(m)); setInterval(() => {}, 1 << 30)"],
    { stdio: ['ignore', 'ignore', 'ignore', 'ipc'] },
  );
  child.on('error', () => {});
  await once(child, 'spawn');
  return child;
}

/** Whether the process still answers (a killed one exits instead; no timer involved). */
export async function answers(child: ChildProcess): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null || !child.connected) return false;
  const reply = once(child, 'message').then(() => true);
  const exit = once(child, 'exit').then(() => false);
  child.send('ping');
  return Promise.race([reply, exit]);
}
