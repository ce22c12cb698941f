// Statements the api runs over and over (the history chart's) as named prepared statements:
// Postgres parses and analyzes one once per connection instead of on every request, and after a
// few executions may keep a generic plan too. On the 24 h chart, parsing, analyzing and planning
// a statement over two tiers and several day partitions cost Postgres about as much as running it.
import { createHash } from "node:crypto";
import type { CompiledQuery } from "kysely";
import type pg from "pg";

/** Distinct statement texts given a name; any others run unnamed, as every statement did before. */
const MAX_NAMED = 64;

export class PreparedStatements {
  readonly #pool: pg.Pool;
  readonly #names = new Map<string, string>();

  constructor(pool: pg.Pool) {
    this.#pool = pool;
  }

  /**
   * Runs a compiled statement, prepared under a name per distinct text: each connection of the
   * pool prepares it on first use (pg keeps track), and the text's parameters change per request.
   */
  async query<Row extends pg.QueryResultRow>(compiled: CompiledQuery<Row>): Promise<Row[]> {
    let name = this.#names.get(compiled.sql);
    if (name === undefined && this.#names.size < MAX_NAMED) {
      // Named after the text, so that two instances on one pool (tests) never give one name two
      // texts on a connection, which pg refuses.
      name = `crowsnest_api_${createHash("sha256").update(compiled.sql).digest("hex").slice(0, 32)}`;
      this.#names.set(compiled.sql, name);
    }
    const result = await this.#pool.query<Row>({
      name,
      text: compiled.sql,
      values: [...compiled.parameters],
    });
    return result.rows;
  }
}
