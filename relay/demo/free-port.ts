import { createServer } from 'node:net';

/**
 * A port that was free on 127.0.0.1 a moment ago. node-media-server cannot listen on port 0
 * and report the port back, so the demo picks ports first (a small race, fine for a demo).
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
