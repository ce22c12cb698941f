// Declarative environment configuration. A service lists its variables once (name, meaning,
// default, what is valid); parseEnv validates all of them and reports every bad one at once,
// and the same list documents the variables (docs/configuration.md) and checks docker-compose.yml.
import { ConfigError } from "../errors/crowsnest-error.ts";

export type EnvSource = Readonly<Record<string, string | undefined>>;

type ParseOutcome<T> = { ok: true; value: T } | { ok: false; expected: string };

export interface EnvVar<T> {
  readonly description: string;
  /** The default as docs/configuration.md shows it; undefined when the variable is required or optional without default. */
  readonly defaultText: string | undefined;
  readonly required: boolean;
  parse(raw: string): ParseOutcome<T>;
  readonly fallback: () => T;
  /** A secret's value is never repeated in an error message. */
  readonly secret?: boolean;
}

export type EnvSpec = Readonly<Record<string, EnvVar<unknown>>>;
export type EnvValues<S extends EnvSpec> = { [K in keyof S]: S[K] extends EnvVar<infer T> ? T : never };

interface VarOptions<T> {
  description: string;
  default?: T;
  /** How the default reads in the docs when its value depends on the machine (e.g. its host name). */
  shownDefault?: string;
}

function defineVar<T>(
  options: VarOptions<T>,
  parse: (raw: string) => ParseOutcome<T>,
  showDefault: (value: T) => string = String,
): EnvVar<T> {
  const hasDefault = options.default !== undefined;
  return {
    description: options.description,
    defaultText: options.shownDefault ?? (hasDefault ? showDefault(options.default as T) : undefined),
    required: !hasDefault,
    parse,
    fallback: () => options.default as T,
  };
}

export function envString(
  options: VarOptions<string> & { pattern?: RegExp; patternText?: string },
): EnvVar<string> {
  return defineVar(options, (raw) =>
    options.pattern && !options.pattern.test(raw)
      ? { ok: false, expected: options.patternText ?? `a value matching ${options.pattern}` }
      : { ok: true, value: raw },
  );
}

/** A variable that may be left unset, with no default; its value is then undefined. */
export function envOptionalString(options: {
  description: string;
  pattern?: RegExp;
  patternText?: string;
  secret?: boolean;
}): EnvVar<string | undefined> {
  const { pattern } = options;
  return {
    description: options.description,
    secret: options.secret ?? false,
    defaultText: undefined,
    required: false,
    parse: (raw) =>
      pattern && !pattern.test(raw)
        ? { ok: false, expected: options.patternText ?? `a value matching ${pattern}` }
        : { ok: true, value: raw },
    fallback: () => undefined,
  };
}

export function envInteger(options: VarOptions<number> & { min: number; max: number }): EnvVar<number> {
  const expected = `an integer from ${options.min} to ${options.max}`;
  return defineVar(options, (raw) => {
    if (!/^-?\d+$/.test(raw.trim())) return { ok: false, expected };
    const value = Number(raw);
    return Number.isSafeInteger(value) && value >= options.min && value <= options.max
      ? { ok: true, value }
      : { ok: false, expected };
  });
}

const TRUE_WORDS = new Set(["true", "1", "yes", "on"]);
const FALSE_WORDS = new Set(["false", "0", "no", "off"]);

export function envBoolean(options: VarOptions<boolean>): EnvVar<boolean> {
  return defineVar(options, (raw) => {
    const word = raw.trim().toLowerCase();
    if (TRUE_WORDS.has(word)) return { ok: true, value: true };
    if (FALSE_WORDS.has(word)) return { ok: true, value: false };
    return { ok: false, expected: "true or false" };
  });
}

export function envEnum<const T extends string>(values: readonly T[], options: VarOptions<T>): EnvVar<T> {
  return defineVar(options, (raw) =>
    (values as readonly string[]).includes(raw)
      ? { ok: true, value: raw as T }
      : { ok: false, expected: `one of ${values.join(", ")}` },
  );
}

/** A URL whose scheme is one of `protocols` (without the colon). */
export function envUrl(options: VarOptions<string> & { protocols: readonly string[] }): EnvVar<string> {
  const expected = `a URL starting with ${options.protocols.map((p) => `${p}://`).join(" or ")}`;
  return defineVar(options, (raw) => {
    const url = URL.parse(raw.trim());
    return url && options.protocols.includes(url.protocol.slice(0, -1))
      ? { ok: true, value: raw.trim() }
      : { ok: false, expected };
  });
}

/** Comma-separated URLs, e.g. several NATS servers of one cluster. */
export function envUrlList(
  options: VarOptions<readonly string[]> & { protocols: readonly string[] },
): EnvVar<readonly string[]> {
  const single = envUrl({ description: options.description, protocols: options.protocols });
  return defineVar(
    options,
    (raw) => {
      const parts = raw
        .split(",")
        .map((part) => part.trim())
        .filter((part) => part !== "");
      if (parts.length === 0) return { ok: false, expected: "one or more comma-separated URLs" };
      for (const part of parts) {
        const outcome = single.parse(part);
        if (!outcome.ok) return { ok: false, expected: `comma-separated values, each ${outcome.expected}` };
      }
      return { ok: true, value: parts };
    },
    (value) => value.join(","),
  );
}

/** A comma-separated list whose every item matches `itemPattern`; empty when unset. */
export function envList(options: {
  description: string;
  itemPattern: RegExp;
  itemText: string;
  secret?: boolean;
}): EnvVar<readonly string[]> {
  return {
    description: options.description,
    secret: options.secret ?? false,
    defaultText: undefined,
    required: false,
    parse(raw) {
      const items = raw
        .split(",")
        .map((item) => item.trim())
        .filter((item) => item !== "");
      // The value may be secret: say which item is wrong by position, never echo it.
      const bad = items.findIndex((item) => !options.itemPattern.test(item));
      return bad >= 0
        ? { ok: false, expected: `comma-separated items, each ${options.itemText} (item ${bad + 1} is not)` }
        : { ok: true, value: items };
    },
    fallback: () => [],
  };
}

function quote(raw: string): string {
  const shown = raw.length > 80 ? `${raw.slice(0, 80)}…` : raw;
  return JSON.stringify(shown);
}

/**
 * Reads every variable of `spec` from `env`. An empty value counts as unset, as in most
 * shells and compose files. Throws one ConfigError naming every variable that is wrong.
 */
export function parseEnv<S extends EnvSpec>(spec: S, env: EnvSource): EnvValues<S> {
  const values: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [name, variable] of Object.entries(spec)) {
    const raw = env[name];
    if (raw === undefined || raw === "") {
      if (variable.required) problems.push(`${name} is required: ${variable.description}`);
      else values[name] = variable.fallback();
      continue;
    }
    const outcome = variable.parse(raw);
    if (outcome.ok) values[name] = outcome.value;
    else problems.push(`${name} must be ${outcome.expected}${variable.secret ? "" : `, got ${quote(raw)}`}`);
  }
  if (problems.length > 0) {
    throw new ConfigError(`invalid configuration: ${problems.join("; ")}`);
  }
  return values as EnvValues<S>;
}
