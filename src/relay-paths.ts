// The relay's HTTP paths (docs/protocol.md#endpoint, docs/protocol.md#http-routes) for the construct,
// the CLI and the endpoints API. jsii compiles only src/, so these are copies of the definitions in
// relay/public/protocol.ts; relay/test/unit/contract-parity.test.ts fails when the two differ.

/** The relay's WebSocket endpoint. */
export const STREAM_PATH = '/v1/stream';

/** The relay's health document: 200 `{"status":"ok","sessions":n}`, 503 while draining. */
export const HEALTH_PATH = '/healthz';
