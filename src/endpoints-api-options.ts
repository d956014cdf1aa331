/** Options of the endpoints API, an HTTPS URL that lists live relays for browser apps. */
export interface EndpointsApiOptions {
  /**
   * Web origins allowed to call the API from a browser (CORS), e.g. `https://studio.example.com`.
   * Origins not listed can still fetch it from a server, but browsers will not let their pages read it.
   */
  readonly allowedOrigins: string[];
}
