/**
 * A TCP proxy in front of the device channel that loses answers: on a connection whose TLS server
 * name is `servername` (read from the ClientHello, as the channel does), it forwards the handshake
 * and the device's first request, then swallows everything the server sends back and cuts both
 * sides — the server has acted on the request, the device never hears of it. `times` connections
 * are treated so; the others pass untouched.
 *
 * The request is recognised by counting TLS 1.3 records from the device: its Finished is the first
 * application_data record, its request the second (the agent speaks TLS 1.3).
 */
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { peekClientHello } from '../../src/transport/device-channel/client-hello.js';

const APPLICATION_DATA = 23;

export interface FaultProxy {
  readonly port: number;
  /** Connections cut so far. */
  readonly cut: () => number;
  close(): Promise<void>;
}

export async function faultProxy(target: { host: string; port: number }, rule: { servername: string; times: number; settleMs?: number }): Promise<FaultProxy> {
  let left = rule.times;
  let cut = 0;
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => undefined);
    let head = Buffer.alloc(0);
    const onFirst = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const peek = peekClientHello(head);
      if (peek.kind === 'incomplete') return;
      client.off('data', onFirst);
      client.pause();
      const faulty = peek.kind === 'hello' && peek.serverName === rule.servername && left > 0;
      if (faulty) left--;
      const upstream = connect(target.port, target.host);
      sockets.add(upstream);
      upstream.on('close', () => {
        sockets.delete(upstream);
        client.destroy();
      });
      upstream.on('error', () => client.destroy());
      client.on('close', () => upstream.destroy());
      upstream.write(head);
      let requestForwarded = false;
      let records = Buffer.alloc(0);
      let applicationRecords = 0;
      client.on('data', (c: Buffer) => {
        upstream.write(c);
        if (!faulty || requestForwarded) return;
        records = Buffer.concat([records, c]);
        while (records.length >= 5 && records.length >= 5 + records.readUInt16BE(3)) {
          if (records[0] === APPLICATION_DATA) applicationRecords++;
          records = records.subarray(5 + records.readUInt16BE(3));
        }
        if (applicationRecords >= 2) {
          requestForwarded = true;
          // Let the server act on the request, then cut both sides; its answer is never passed on.
          setTimeout(() => {
            cut++;
            upstream.destroy();
            client.destroy();
          }, rule.settleMs ?? 300);
        }
      });
      upstream.on('data', (c: Buffer) => {
        if (!requestForwarded) client.write(c);
      });
      client.resume();
    };
    client.on('data', onFirst);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port, // a TCP listener
    cut: () => cut,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
