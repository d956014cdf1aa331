// Placeholder: the tracker handler (Contract 4) is implemented in its own change.
export const handler = async (_event: unknown): Promise<void> => {};
