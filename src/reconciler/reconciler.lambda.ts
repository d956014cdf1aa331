// The registry reconciler (docs/registry.md#reconciler): placeholder, filled in below.
export const handler = async (): Promise<void> => {};
