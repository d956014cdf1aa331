/** A failure the user can act on, with a message that already says what to do. */
export class CliError extends Error {}

/** Turns an error into one line that names the cause and the fix; never a stack trace. */
export function explain(err: unknown): string {
  if (err instanceof CliError) return err.message;
  const e = err as { name?: string; message?: string };
  switch (e.name) {
    case 'CredentialsProviderError':
    case 'ExpiredTokenException':
    case 'UnrecognizedClientException':
    case 'InvalidSignatureException':
      return `no usable AWS credentials (${e.message}); configure them with 'aws configure' or AWS_PROFILE, and set AWS_REGION`;
    case 'ResourceNotFoundException':
      return `${e.message ?? 'resource not found'}; check the name and AWS_REGION (the stack outputs name the table and secret)`;
    case 'AccessDeniedException':
      return `access denied: ${e.message}`;
    default:
      return e.message ?? String(err);
  }
}
