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
