// The few error classes Crowsnest throws on purpose. Anything else is a bug.

export class CrowsnestError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** Configuration that cannot be used; the message names the variable and what was expected. */
export class ConfigError extends CrowsnestError {
  constructor(message: string) {
    super("config_invalid", message);
  }
}

/**
 * A NATS connection that cannot succeed until its configuration (or the server's) changes: TLS
 * the server or the client refuses, or credentials the server refuses.
 */
export class NatsSetupError extends CrowsnestError {
  constructor(code: "nats_tls" | "nats_auth", message: string, options?: ErrorOptions) {
    super(code, message, options);
  }
}
