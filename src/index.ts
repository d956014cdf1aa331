export * from './transwrap-relay';
export * from './relay-auth';
export * from './relay-scaling';
export * from './task-tracker';
export * from './endpoints-api';
export { DEFAULT_ALLOWED_INGESTS } from './ingest-allow-list';
export * from './relay-dns';
