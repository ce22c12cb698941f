// Label selectors in query strings, Kubernetes style: `app=web,tier!=db` (every clause must
// hold). Keys are label names; values are matched exactly. Parsed into clauses that queries
// apply to the containers' labels (jsonb containment, so Postgres can use an index later).
import { z } from "@hono/zod-openapi";
import { type ExpressionBuilder, sql } from "kysely";

export interface LabelClause {
  key: string;
  value: string;
  equal: boolean;
}

const CLAUSE = /^([A-Za-z0-9][A-Za-z0-9._/-]{0,252})(!=|=)([^,\p{Cc}]{0,253})$/u;

export const labelSelectorParam = z
  .string()
  .max(2000, "must be at most 2000 characters")
  .transform((raw, ctx): LabelClause[] => {
    const clauses: LabelClause[] = [];
    for (const part of raw.split(",")) {
      const match = CLAUSE.exec(part.trim());
      if (!match?.[1] || match[3] === undefined) {
        ctx.addIssue({
          code: "custom",
          message: "must be clauses like key=value or key!=value, comma-separated",
        });
        return z.NEVER;
      }
      clauses.push({ key: match[1], value: match[3], equal: match[2] === "=" });
    }
    return clauses;
  })
  .openapi({ type: "string", example: "com.docker.compose.project=shop,tier!=db" });

/** A where-condition on a table with a `labels` jsonb column holding every clause. */
/** One clause as SQL on a jsonb labels column (`labels` or a qualified `c.labels`). */
export function labelClauseSql(clause: LabelClause, labelsColumn = "labels") {
  const contains = sql<boolean>`${sql.ref(labelsColumn)} @> ${JSON.stringify({ [clause.key]: clause.value })}::jsonb`;
  return clause.equal ? contains : sql<boolean>`NOT (${contains})`;
}

export function matchesLabels<DB, TB extends keyof DB>(clauses: readonly LabelClause[]) {
  return (eb: ExpressionBuilder<DB, TB>) => eb.and(clauses.map((clause) => labelClauseSql(clause)));
}
