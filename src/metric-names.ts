// Names shared by the construct (alarms, dashboard) and the Lambda functions that write metrics: plain
// constants, so a Lambda bundle that imports them takes nothing else with it.

/** The CloudWatch namespace of the relay's metrics (docs/telemetry.md#metrics). */
export const METRICS_NAMESPACE = 'TranswrapRelay';

/** Repairs the registry reconciler made in one run (docs/registry.md#reconciler). */
export const REGISTRY_REPAIRS_METRIC = 'RegistryRepairs';
