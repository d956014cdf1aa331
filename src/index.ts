export * from './transwrap-relay';
export * from './relay-auth';
export * from './task-tracker';
export { DEFAULT_ALLOWED_INGESTS } from './ingest-allow-list';
