/** Options of the endpoints API, an HTTPS URL that lists live relays for browser apps. */
export interface EndpointsApiOptions {
  /**
   * Web origins allowed to call the API from a browser (CORS), e.g. `https://studio.example.com`.
   * Origins not listed can still fetch it from a server, but browsers will not let their pages read it.
   */
  readonly allowedOrigins: string[];

  /**
   * Concurrent executions reserved for (and so the most allowed to) the function behind the public
   * URL, which bounds what a flood of requests can cost and take from the account's other functions.
   * New accounts may have too little unreserved concurrency to reserve any: hence off by default.
   * @default - no reservation: the function shares the account's concurrency
   */
  readonly reservedConcurrency?: number;
}
