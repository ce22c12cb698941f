// The AsyncAPI 3.0 document of the bus, from the contract catalogue, the JSON Schemas made from
// the codecs' zod schemas, and the JetStream stream definitions with the configuration defaults,
// so what it says about subjects, payloads and retention is what the services do.
import { commonEnv } from "../config/common-env.ts";
import { DEFAULT_STREAM_RETENTION, type StreamRole, streamDefinitions } from "../jetstream/streams.ts";
import { CONTRACT_VERSION, createSubjects } from "../subjects/subjects.ts";
import { CROWSNEST_VERSION } from "../version.ts";
import {
  CONTRACT_CHANNELS,
  CONTRACT_MESSAGES,
  CONTRACT_RPCS,
  type ContractChannel,
  type ContractMessage,
} from "./contract-catalogue.ts";
import { buildJsonSchemas, type JsonSchema } from "./json-schemas.ts";

const ASYNCAPI_VERSION = "3.0.0";

/** What the document says about the stream that keeps a channel's messages (an `x-` extension: AsyncAPI has no JetStream binding). */
interface JetStreamRetention {
  stream: string;
  max_age_ms: number;
  max_age: string;
  /** The variable that changes max_age. */
  max_age_setting: string;
  duplicate_window_ms: number;
}

const MAX_AGE_SETTING: Record<StreamRole, keyof typeof commonEnv> = {
  telemetry: "CROWSNEST_STREAM_TELEMETRY_MAX_AGE_MS",
  events: "CROWSNEST_STREAM_EVENTS_MAX_AGE_MS",
  alerts: "CROWSNEST_STREAM_EVENTS_MAX_AGE_MS",
  deadletter: "CROWSNEST_STREAM_EVENTS_MAX_AGE_MS",
};

const NANOS_PER_MS = 1_000_000;
const DAY_MS = 24 * 3600_000;

function humanDuration(ms: number): string {
  if (ms % DAY_MS === 0 && ms >= 2 * DAY_MS) return `${ms / DAY_MS} d`;
  if (ms % 3600_000 === 0) return `${ms / 3600_000} h`;
  return `${ms / 1000} s`;
}

/** Whether a stream's subject filter (`a.b.>`, `a.*.c`) covers every subject of an address (`a.b.{x}.c`). */
function filterCoversAddress(filter: string, address: string): boolean {
  const filterTokens = filter.split(".");
  const addressTokens = address.split(".");
  for (const [index, token] of filterTokens.entries()) {
    if (token === ">") return addressTokens.length > index;
    const addressToken = addressTokens[index];
    if (addressToken === undefined) return false;
    const variable = addressToken.startsWith("{");
    if (token === "*") continue;
    if (variable || token !== addressToken) return false;
  }
  return filterTokens.length === addressTokens.length;
}

/** The stream that keeps a channel's messages with the default prefix and settings; undefined for core NATS subjects. */
function channelRetention(address: string | null): JetStreamRetention | undefined {
  if (address === null) return undefined;
  const definitions = streamDefinitions(createSubjects(), DEFAULT_STREAM_RETENTION);
  const definition = definitions.find((candidate) =>
    candidate.config.subjects.some((filter) => filterCoversAddress(filter, address)),
  );
  if (!definition) return undefined;
  const maxAgeMs = Number(definition.config.max_age ?? 0) / NANOS_PER_MS;
  const setting = MAX_AGE_SETTING[definition.role];
  // The document names the variable that sets this age; its default must be the age shown.
  if (commonEnv[setting].fallback() !== maxAgeMs) {
    throw new Error(`${setting} does not default to the max age of stream ${definition.config.name}`);
  }
  return {
    stream: definition.config.name,
    max_age_ms: maxAgeMs,
    max_age: humanDuration(maxAgeMs),
    max_age_setting: setting,
    duplicate_window_ms: Number(definition.config.duplicate_window ?? 0) / NANOS_PER_MS,
  };
}

const ref = ($ref: string) => ({ $ref });

function channelObject(channel: ContractChannel): Record<string, unknown> {
  const retention = channelRetention(channel.address);
  const kept = retention
    ? `Kept in JetStream stream \`${retention.stream}\` for ${retention.max_age} (\`${retention.max_age_setting}\`); a durable consumer catches up on what it missed within that age.`
    : channel.address === null
      ? "Core NATS: not kept."
      : "Core NATS, not kept in any stream: only current subscribers receive it.";
  return {
    address: channel.address,
    title: channel.title,
    description: `${channel.description} Published by: ${channel.publisher}. ${kept}`,
    ...(Object.keys(channel.parameters).length > 0
      ? {
          parameters: Object.fromEntries(
            Object.entries(channel.parameters).map(([name, parameter]) => [
              name,
              {
                description: parameter.description,
                ...(parameter.enum ? { enum: [...parameter.enum] } : {}),
                examples: [...parameter.examples],
              },
            ]),
          ),
        }
      : {}),
    messages: Object.fromEntries(
      channel.messages.map((name) => [name, ref(`#/components/messages/${name}`)]),
    ),
    ...(retention ? { "x-jetstream": retention } : {}),
  };
}

function messageObject(message: ContractMessage): Record<string, unknown> {
  return {
    name: message.name,
    title: message.title,
    summary: message.title,
    description: message.description,
    contentType: "application/json",
    ...(message.messageId
      ? {
          headers: {
            type: "object",
            properties: {
              "Nats-Msg-Id": {
                type: "string",
                description: `JetStream's deduplication id: ${message.messageId}. A republished message with the same id is stored once.`,
              },
            },
          },
        }
      : {}),
    payload: ref(`#/components/schemas/${message.name}`),
    examples: message.examples.map((example) => ({
      name: example.name,
      summary: example.summary,
      payload: example.payload,
    })),
  };
}

function channelById(id: string): ContractChannel {
  const channel = CONTRACT_CHANNELS.find((candidate) => candidate.id === id);
  if (!channel) throw new Error(`no channel ${id}`);
  return channel;
}

function operations(): Record<string, unknown> {
  const result: Record<string, unknown> = {};
  const rpcChannels = new Set(CONTRACT_RPCS.flatMap((rpc) => [rpc.request, rpc.reply]));
  for (const channel of CONTRACT_CHANNELS) {
    if (rpcChannels.has(channel.id)) continue;
    result[`publish${channel.id[0]?.toUpperCase()}${channel.id.slice(1)}`] = {
      action: "send",
      channel: ref(`#/channels/${channel.id}`),
      title: `Publish ${channel.title.toLowerCase()}`,
      summary: `${channel.publisher} publishes ${channel.title.toLowerCase()}; subscribe to receive them.`,
      messages: channel.messages.map((name) => ref(`#/channels/${channel.id}/messages/${name}`)),
    };
  }
  for (const rpc of CONTRACT_RPCS) {
    const request = channelById(rpc.request);
    const reply = channelById(rpc.reply);
    result[`answer${rpc.id[0]?.toUpperCase()}${rpc.id.slice(1)}`] = {
      action: "receive",
      channel: ref(`#/channels/${request.id}`),
      title: `Answer ${request.title.toLowerCase()}`,
      summary: `${rpc.summary} Send the request with a reply subject (a NATS request); the reply goes to it.`,
      messages: request.messages.map((name) => ref(`#/channels/${request.id}/messages/${name}`)),
      reply: {
        channel: ref(`#/channels/${reply.id}`),
        messages: reply.messages.map((name) => ref(`#/channels/${reply.id}/messages/${name}`)),
      },
    };
  }
  return result;
}

const DESCRIPTION = [
  "The NATS subjects Crowsnest publishes: a versioned contract any program can subscribe to.",
  "",
  "- Subjects start with a configurable prefix (default `crowsnest`, shown here) and the contract version (`v1`). JetStream stream names derive from the prefix (`acme` → `ACME_TELEMETRY`).",
  "- Host and container names are encoded into exactly one subject token (see the `host` parameter); the raw names are in the payload.",
  '- Payloads are JSON with `snake_case` fields and `"v": 1`; timestamps are RFC 3339 UTC with milliseconds. Every message is validated against its schema when published and when consumed.',
  "- Within v1, fields and enum values are only added, never removed, renamed or narrowed: ignore what you do not know.",
].join("\n");

export function buildAsyncApiDocument(schemas: Record<string, JsonSchema> = buildJsonSchemas()) {
  return {
    asyncapi: ASYNCAPI_VERSION,
    id: `urn:crowsnest:bus:${CONTRACT_VERSION}`,
    info: {
      title: "Crowsnest bus",
      version: CONTRACT_VERSION,
      description: DESCRIPTION,
      "x-crowsnest-version": CROWSNEST_VERSION,
    },
    defaultContentType: "application/json",
    servers: {
      nats: {
        host: "localhost:4222",
        protocol: "nats",
        description:
          "Your NATS server (JetStream enabled); with docker compose, `nats:4222` on the compose network.",
      },
    },
    channels: Object.fromEntries(CONTRACT_CHANNELS.map((channel) => [channel.id, channelObject(channel)])),
    operations: operations(),
    components: {
      schemas: Object.fromEntries(
        CONTRACT_MESSAGES.map((message) => {
          const { $schema: _dialect, ...schema } = schemas[message.name] ?? {};
          return [message.name, schema];
        }),
      ),
      messages: Object.fromEntries(
        CONTRACT_MESSAGES.map((message) => [message.name, messageObject(message)]),
      ),
    },
  };
}

export type AsyncApiDocument = ReturnType<typeof buildAsyncApiDocument>;
