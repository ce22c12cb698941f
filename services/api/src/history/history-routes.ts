// GET /containers/{id}/stats/history and /hosts/{id}/stats/history: points with avg and max,
// the granularity and the tables used stated in the answer; `format=csv` for export.
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { type Kysely, sql } from "kysely";
import {
  containerRefPath,
  containerRefQuery,
  containerRefResponses,
  numericContainerRef,
  resolveContainerId,
} from "../containers/container-ref.ts";
import type { ApiDatabase } from "../db/api-database.ts";
import { ApiError, errorDoc } from "../http/api-error.ts";
import { type AppEnv, rejectInvalidInput } from "../http/app-env.ts";
import { ByteAnswer } from "../http/byte-answer.ts";
import { idPath } from "../http/params.ts";
import { CSV_CONTENT_TYPE, formatParam, historyCsv } from "./history-csv.ts";
import { historyQuery, resolveWindow } from "./range-params.ts";
import {
  ALL_SOURCES,
  CONTAINER_SERIES,
  HOST_SERIES,
  pointsJsonPieces,
  querySeries,
  type SeriesSpec,
  seriesPointsJsonSql,
} from "./series-query.ts";

const valueJson = z.object({ avg: z.number().nullable(), max: z.number().nullable().optional() });

function historyRoute(kind: "containers" | "hosts", spec: SeriesSpec) {
  const values = Object.fromEntries([...spec.gauges, ...spec.averagesOnly].map((name) => [name, valueJson]));
  return createRoute({
    method: "get",
    path: `/${kind}/{id}/stats/history`,
    summary: `History of one ${kind === "containers" ? "container" : "host"}: avg and max per step`,
    // Containers by any reference (containers/container-ref.ts), hosts by their numeric id.
    request:
      kind === "containers"
        ? {
            params: containerRefPath,
            query: z.object({ ...historyQuery, ...containerRefQuery, format: formatParam }),
          }
        : {
            params: idPath,
            query: z.object({ ...historyQuery, format: formatParam }),
          },
    responses: {
      200: {
        description: "Points oldest first; steps without samples are left out",
        content: {
          "application/json": {
            schema: z.object({
              id: z.number().int(),
              from: z.string(),
              to: z.string(),
              granularity: z
                .string()
                .openapi({ description: "raw, or the step (1m, 5m, 1h, 1d, or the one asked for)" }),
              sources: z.array(z.enum(ALL_SOURCES)).openapi({
                description:
                  "The stored tiers read, oldest part first: daily, hourly, five-minute or minute rollups (the coarsest whose buckets divide the step), then finer ones, and raw samples for the newest minutes",
              }),
              points: z.array(z.object({ ts: z.string(), samples: z.number().int(), ...values })),
            }),
          },
          "text/csv": {
            schema: z.string().openapi({
              example: "ts,samples,cpu_percent_avg,cpu_percent_max\n2026-12-01T10:00:00.000Z,6,12.5,20\n",
            }),
          },
        },
      },
      400: errorDoc(
        "A parameter is invalid, or the window would read more than 2000 stored rows per series at the step",
      ),
      ...(kind === "containers" ? containerRefResponses : { 404: errorDoc("No such host") }),
    },
  });
}

async function existingHostId(db: Kysely<ApiDatabase>, id: number): Promise<number> {
  const exists = await db.selectFrom("hosts").select("id").where("id", "=", id).executeTakeFirst();
  if (!exists) throw new ApiError("not_found", `no host with id ${id}`);
  return id;
}

export function historyRoutes(): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: rejectInvalidInput });
  for (const [kind, spec] of [
    ["containers", CONTAINER_SERIES],
    ["hosts", HOST_SERIES],
  ] as const) {
    app.openapi(historyRoute(kind, spec), async (c) => {
      const param = c.req.valid("param");
      const query = c.req.valid("query");
      const nowMs = Date.now();
      const window = resolveWindow(query, nowMs);
      const range = { ...window, nowMs };
      const host = "host" in query ? query.host : undefined;
      const resolve = () =>
        typeof param.id === "string"
          ? resolveContainerId(c.var.db, param.id, host, c.var.prepared)
          : existingHostId(c.var.db, param.id);
      if (query.format === "csv") {
        const id = await resolve();
        const { points } = await querySeries(c.var.db, spec, id, range);
        return c.body(historyCsv(spec, points), 200, {
          "Content-Type": CSV_CONTENT_TYPE,
          "Content-Disposition": `attachment; filename="${kind === "containers" ? "container" : "host"}-${id}-history.csv"`,
        });
      }
      // The points arrive as JSON text built by Postgres (seriesPointsJsonSql) and are sent as
      // they are: the envelope around them is the only JSON the api writes. The statement also
      // says whether the id exists, so a numeric id (what charts ask with) costs one round trip:
      // other references (names, id prefixes, a host to tell names apart) are resolved first.
      const chart = async (id: number) => {
        const statement = seriesPointsJsonSql(spec, id, range);
        const found = sql<boolean>`EXISTS (SELECT 1 FROM ${sql.table(kind)} WHERE id = ${id})`;
        // One row per part of the points (none without points), each saying whether the id exists.
        const query = statement
          ? sql<{ found: boolean; points: string | null }>`
              SELECT found, chart.points FROM (SELECT ${found} AS found) AS container
              LEFT JOIN (${statement.query}) AS chart ON true ORDER BY chart.part`
          : sql<{ found: boolean; points: string | null }>`SELECT ${found} AS found, NULL AS points`;
        // Prepared (db/prepared-statements.ts): a chart's statement has the same text every time.
        const rows = await c.var.prepared.query(query.compile(c.var.db));
        return {
          found: rows[0]?.found === true,
          parts: rows.flatMap((row) => (row.points === null ? [] : [{ points: row.points }])),
          sources: statement?.sources ?? [],
        };
      };
      const direct =
        typeof param.id === "number" ? param.id : host === undefined ? numericContainerRef(param.id) : null;
      let id = direct ?? (await resolve());
      let answer = await chart(id);
      if (!answer.found && direct !== null) {
        // No container with that id: the reference may still be a name; hosts answer 404.
        id = await resolve();
        answer = await chart(id);
      }
      const { parts, sources } = answer;
      const envelope = JSON.stringify({
        id,
        from: new Date(window.fromMs).toISOString(),
        to: new Date(window.toMs).toISOString(),
        granularity: window.granularity,
        sources,
      });
      const body = new ByteAnswer().push(
        `${envelope.slice(0, -1)},"points":`,
        ...pointsJsonPieces(parts),
        "}",
      );
      return c.body(body.toBuffer(), 200, { "Content-Type": "application/json" });
    });
  }
  return app;
}
