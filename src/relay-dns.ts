import { Duration } from 'aws-cdk-lib';
import * as route53 from 'aws-cdk-lib/aws-route53';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';

/**
 * A DNS name and a trusted certificate for every relay task, instead of a self-signed certificate
 * per IP address: browsers connect to `wss://<task-id>.<subdomain>.<zone>` without a warning.
 */
export interface RelayDnsOptions {
  /** The Route 53 hosted zone the task records are created in. */
  readonly hostedZone: route53.IHostedZone;

  /**
   * The label under the zone that holds the task records: `<task-id>.<subdomain>.<zone name>`.
   * @default 'relay'
   */
  readonly subdomain?: string;

  /**
   * A Secrets Manager secret holding a certificate for `*.<subdomain>.<zone name>` as JSON:
   * `{"certificate": "<PEM chain>", "privateKey": "<PEM key>"}` (for example from Let's Encrypt).
   * Relays read it at start (RELAY_TLS=provided); it is never in the image or the template.
   */
  readonly certificateSecret: secretsmanager.ISecret;

  /**
   * TTL of the task records; short, since tasks come and go.
   * @default Duration.seconds(60)
   */
  readonly recordTtl?: Duration;
}

/** A DNS name: lower-case labels of letters, digits and hyphens. */
export const DNS_NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;

/** The domain that holds the task records (`dns.subdomain` checked by validateProps). */
export function relayDomain(options: RelayDnsOptions): string {
  return `${options.subdomain ?? 'relay'}.${options.hostedZone.zoneName.replace(/\.$/, '')}`;
}
