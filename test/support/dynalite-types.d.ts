// dynalite ships no type declarations; this is the part the tracker tests use.
declare module 'dynalite' {
  import type { Server } from 'http';
  function dynalite(options?: { createTableMs?: number; deleteTableMs?: number; updateTableMs?: number; path?: string }): Server;
  export = dynalite;
}
