import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';

/** Verify relay tokens against an OpenID Connect issuer (for example an Amazon Cognito user pool). */
export interface OidcAuthOptions {
  /** URL of the issuer's JSON Web Key Set, e.g. `https://cognito-idp.<region>.amazonaws.com/<poolId>/.well-known/jwks.json`. */
  readonly jwksUrl: string;
  /** Expected `iss` claim. */
  readonly issuer: string;
  /**
   * Expected `aud` claim (for Cognito ID tokens, the app client id). Required: without it, any
   * token the issuer signs for any of its applications would open the relay.
   */
  readonly audience: string;
}

/**
 * How the relay authenticates the token in each start message (docs/configuration.md#authentication). The relay is never
 * an open relay: every option requires a signed, unexpired token.
 */
export class RelayAuth {
  /** A random HS256 secret generated in AWS Secrets Manager; your backend reads it to mint tokens. */
  public static generatedSecret(): RelayAuth {
    return new RelayAuth();
  }

  /**
   * An HS256 secret you already keep in AWS Secrets Manager: the whole secret string, without
   * surrounding whitespace, is the key. It must have at least 32 bytes, or the relay does not start.
   */
  public static fromSecret(secret: secretsmanager.ISecret): RelayAuth {
    return new RelayAuth(secret);
  }

  /** Tokens issued by an OpenID Connect provider, verified with its public keys; no shared secret. */
  public static oidc(options: OidcAuthOptions): RelayAuth {
    return new RelayAuth(undefined, options);
  }

  /** The shared secret given with `fromSecret`, if any. */
  public readonly secret?: secretsmanager.ISecret;
  /** The issuer settings given with `oidc`, if any. */
  public readonly oidcOptions?: OidcAuthOptions;

  private constructor(secret?: secretsmanager.ISecret, oidcOptions?: OidcAuthOptions) {
    this.secret = secret;
    this.oidcOptions = oidcOptions;
  }
}
