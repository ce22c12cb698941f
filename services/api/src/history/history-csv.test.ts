import { describe, expect, it } from "vitest";
import { seriesCsv } from "./history-csv.ts";
import { CONTAINER_SERIES } from "./series-query.ts";

describe("seriesCsv", () => {
  it("quotes names as RFC 4180 says and leaves out steps without samples", () => {
    const csv = seriesCsv(
      CONTAINER_SERIES,
      {
        metrics: ["cpu_percent", "mem_limit"],
        ts: ["2026-12-01T10:00:00.000Z", "2026-12-01T10:01:00.000Z"],
        series: [
          {
            id: 7,
            name: 'web,"blue"',
            host: "node-1",
            samples: [0, 6],
            values: { cpu_percent: { avg: [null, 12.5], max: [null, 20] }, mem_limit: { avg: [null, null] } },
          },
        ],
      },
      true,
    );
    expect(csv).toBe(
      "id,name,host,ts,samples,cpu_percent_avg,cpu_percent_max,mem_limit_avg\r\n" +
        '7,"web,""blue""",node-1,2026-12-01T10:01:00.000Z,6,12.5,20,\r\n',
    );
  });
});
