// The part of node-media-server v4.4 the demo uses (the package ships no type declarations).
declare module 'node-media-server' {
  /** Session object passed to event listeners. */
  interface NmsSession {
    readonly streamPath: string;
  }
  class NodeMediaServer {
    constructor(config: Record<string, unknown>, configPath?: string);
    run(): Promise<void>;
    stop(): Promise<void>;
    on(event: 'prePublish' | 'postPublish' | 'donePublish' | 'prePlay' | 'postPlay' | 'donePlay', listener: (session: NmsSession) => void): void;
  }
  export default NodeMediaServer;
}

declare module 'node-media-server/src/core/logger.js' {
  const logger: { level: 'trace' | 'debug' | 'info' | 'warn' | 'error' };
  export default logger;
}
