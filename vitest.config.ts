// Two projects: fast unit tests beside the code, and integration tests against real
// Postgres, NATS and dockerd (found through CROWSNEST_TEST_* variables, or started with
// testcontainers). Sources run as TypeScript through the `crowsnest-source` condition.
import { defaultServerConditions } from "vite";
import { defineConfig } from "vitest/config";

const conditions = ["crowsnest-source", ...defaultServerConditions];

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions } },
  test: {
    projects: [
      {
        extends: true,
        test: {
          name: "unit",
          include: ["packages/*/src/**/*.test.ts", "services/*/src/**/*.test.ts", "test/**/*.test.ts"],
          exclude: ["**/*.int.test.ts", "**/node_modules/**"],
        },
      },
      {
        extends: true,
        test: {
          name: "integration",
          include: [
            "packages/*/src/**/*.int.test.ts",
            "services/*/src/**/*.int.test.ts",
            "test/**/*.int.test.ts",
          ],
          globalSetup: ["test/support/global-setup.ts"],
          testTimeout: 60_000,
          hookTimeout: 180_000,
          // One file at a time: on two cores, CPU-burning workloads of one test would skew another's figures.
          fileParallelism: false,
        },
      },
    ],
  },
});
