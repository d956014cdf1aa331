export * from './transwrap-relay';
export * from './relay-auth';
export * from './relay-scaling';
export * from './relay-dns';
export * from './endpoints-api-options';
export * from './relay-metric-options';
