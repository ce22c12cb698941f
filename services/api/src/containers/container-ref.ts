// Container references: every route that takes a container takes what a user has in hand —
// the api's numeric id, the runtime's id as `docker ps` shows it (full, or a unique prefix of
// at least 12 hex characters), a Kubernetes `namespace/pod/container` or containerd `namespace/id`,
// or the container's name
// — and narrows by `host` when the same name or prefix exists on several hosts. One that fits
// several containers is a 409 listing them; one that fits none is a 404.
import { type createRoute, z } from "@hono/zod-openapi";
import { type Kysely, sql } from "kysely";
import type { ApiDatabase } from "../db/api-database.ts";
import type { PreparedStatements } from "../db/prepared-statements.ts";
import { ApiError, errorDoc, errorEnvelope } from "../http/api-error.ts";
import { textParam } from "../http/params.ts";

/** The shortest runtime id prefix accepted: what `docker ps` prints. */
export const MIN_ID_PREFIX_LENGTH = 12;
/** Most candidates a 409 lists; more are summed up in its message. */
export const MAX_CANDIDATES = 20;

const NUMERIC_ID = /^[1-9][0-9]{0,15}$/;
const HEX_PREFIX = new RegExp(`^[0-9a-f]{${MIN_ID_PREFIX_LENGTH},64}$`);

const DESCRIPTION =
  "The container: the api's numeric id, the runtime's id (full, or a unique prefix of at least " +
  `${MIN_ID_PREFIX_LENGTH} hex characters, as \`docker ps\` shows it), a Kubernetes ` +
  "`namespace/pod/container` or a containerd `namespace/id` outside the default namespace (with `/` " +
  "encoded as `%2F` in a path), or its name. When a name or " +
  "prefix fits containers on several hosts, add `host`; an ambiguous reference is a 409 that lists " +
  "the candidates.";

/** A container reference as a path parameter `{id}`. */
export const containerRefPath = z.object({
  id: textParam(512).openapi({
    param: { name: "id", in: "path" },
    type: "string",
    description: DESCRIPTION,
    example: "4f1c9b0e2a7d",
  }),
});

/** A container reference as a query parameter (filters such as `container_id`). */
export const containerRefQueryParam = textParam(512).openapi({ type: "string", description: DESCRIPTION });

/** Spread into a route's query object: the host that narrows an ambiguous reference. */
export const containerRefQuery = {
  host: textParam(253)
    .optional()
    .openapi({ description: "Only the container on this host (narrows a name or id prefix that repeats)." }),
};

const candidateJson = z
  .object({ id: z.number().int(), host: z.string(), name: z.string(), external_id: z.string() })
  .openapi("ContainerCandidate");
type Candidate = z.infer<typeof candidateJson>;

const ambiguousEnvelope = z
  .object({
    error: errorEnvelope.shape.error.extend({
      candidates: z.array(candidateJson).openapi({ description: `At most ${MAX_CANDIDATES}.` }),
    }),
  })
  .openapi("AmbiguousContainer");

/** Responses every route taking a container reference adds to its own. */
export const containerRefResponses = {
  404: errorDoc("No such container"),
  409: {
    description: "The reference fits several containers: the error lists them as `candidates`",
    content: { "application/json": { schema: ambiguousEnvelope } },
  },
} as const satisfies NonNullable<Parameters<typeof createRoute>[0]["responses"]>;

/**
 * The id a reference names if it is numeric: a container with that id is what it resolves to
 * (an id match comes before every other form resolveContainerId tries), so a caller that finds
 * the id may skip the lookup. Null for any other form.
 */
export function numericContainerRef(ref: string): number | null {
  return NUMERIC_ID.test(ref) && Number.isSafeInteger(Number(ref)) ? Number(ref) : null;
}

/**
 * The api's id of the container `ref` names, optionally only on `host`. Forms are tried in
 * order, as `docker` itself does — the numeric id, the runtime's full id, the name, a runtime
 * id prefix — and the first form that fits anything decides. Within it a container that still
 * exists wins over removed ones (a recreated container keeps its name); several that exist, or
 * only several removed ones, are ambiguous. With `prepared`, the lookup runs as a named prepared
 * statement (its text depends only on which forms `ref` could be): the history chart's route
 * asks it on every request, and Postgres then parses and plans it once per connection.
 */
export async function resolveContainerId(
  db: Kysely<ApiDatabase>,
  ref: string,
  host: string | undefined,
  prepared?: PreparedStatements,
): Promise<number> {
  const numericId = numericContainerRef(ref);
  // A name is stored without the leading slash dockerd's inspect gives it.
  const name = ref.startsWith("/") ? ref.slice(1) : ref;
  const prefix = HEX_PREFIX.test(ref.toLowerCase()) ? ref.toLowerCase() : null;
  const tier = sql<number>`case
    when ${numericId === null ? sql`false` : sql`id = ${numericId}`} then 0
    when external_id = ${ref} then 1
    when name = ${name} then 2
    else 3 end`;
  let select = db
    .selectFrom("containers")
    .select(["id", "host", "name", "external_id", tier.as("tier"), sql<boolean>`gone_at is null`.as("live")])
    .where((eb) =>
      eb.or([
        ...(numericId === null ? [] : [eb("id", "=", numericId)]),
        eb("external_id", "=", ref),
        eb("name", "=", name),
        ...(prefix === null ? [] : [eb(sql`starts_with(external_id, ${prefix})`, "=", true)]),
      ]),
    )
    .orderBy("tier")
    .orderBy(sql`gone_at is null`, "desc")
    .orderBy("id")
    .limit(MAX_CANDIDATES + 1);
  if (host !== undefined) select = select.where("host", "=", host);
  const rows = prepared ? await prepared.query(select.compile()) : await select.execute();
  const first = rows[0];
  if (!first) throw notFound(ref, numericId, host);
  const sameForm = rows.filter((row) => Number(row.tier) === Number(first.tier));
  const live = sameForm.filter((row) => row.live);
  const candidates = live.length > 0 ? live : sameForm;
  if (candidates.length === 1) return first.id;
  throw ambiguous(ref, candidates.map(toCandidate));
}

function toCandidate(row: Candidate): Candidate {
  return { id: row.id, host: row.host, name: row.name, external_id: row.external_id };
}

function notFound(ref: string, numericId: number | null, host: string | undefined): ApiError {
  const what = numericId === null ? `no container ${JSON.stringify(ref)}` : `no container with id ${ref}`;
  return new ApiError("not_found", host === undefined ? what : `${what} on host ${JSON.stringify(host)}`);
}

function ambiguous(ref: string, candidates: Candidate[]): ApiError {
  // The query fetched one row more than a 409 lists, to tell "exactly 20" from "more".
  const count =
    candidates.length > MAX_CANDIDATES ? `more than ${MAX_CANDIDATES}` : String(candidates.length);
  const hosts = new Set(candidates.map((candidate) => candidate.host));
  const hint = hosts.size > 1 ? "add ?host= or use one's id" : "use one's id, or a longer id prefix";
  return new ApiError("ambiguous", `${JSON.stringify(ref)} fits ${count} containers: ${hint}`, {
    candidates: candidates.slice(0, MAX_CANDIDATES),
  });
}
