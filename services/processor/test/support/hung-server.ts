import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/** An HTTP server that accepts every request and never answers it: a dropped connection, as a client sees it. */
export interface HungServer {
  readonly endpoint: string;
  /** Requests received so far (one per SDK attempt). */
  requests(): number;
  close(): Promise<void>;
}

export async function startHungServer(): Promise<HungServer> {
  let requests = 0;
  const server = createServer(() => {
    requests += 1;
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests: () => requests,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
