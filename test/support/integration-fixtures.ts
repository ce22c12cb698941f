// Integration-test resources as vitest fixtures: a test names what it needs in its arguments
// (`async ({ database, subjectPrefix }) => …`) and gets each set up before it and torn down
// after it, even when it fails, instead of repeating beforeAll/afterAll pairs and their
// optional chaining. Only what a test names is created.
import { test } from "vitest";
import { deleteTestStreams } from "./bus-fixtures.ts";
import { createPrivateNatsServer, type PrivateNatsServer } from "./private-nats-server.ts";
import { connectTestNats, createTestDatabase, type TestDatabase, testSubjectPrefix } from "./test-env.ts";

export interface IntegrationFixtures {
  /** An empty database of the test's own, dropped after it. */
  database: TestDatabase;
  /** A subject prefix of the test's own on the shared NATS server; its streams are deleted after it. */
  subjectPrefix: string;
  /** A nats-server of the test's own, not started yet; stopped and removed after it. */
  privateNats: PrivateNatsServer;
}

export const integrationTest = test.extend<IntegrationFixtures>({
  // biome-ignore lint/correctness/noEmptyPattern: vitest reads a fixture's own dependencies from this pattern.
  database: async ({}, use) => {
    const database = await createTestDatabase();
    try {
      await use(database);
    } finally {
      await database.drop();
    }
  },
  // biome-ignore lint/correctness/noEmptyPattern: vitest reads a fixture's own dependencies from this pattern.
  subjectPrefix: async ({}, use) => {
    const prefix = testSubjectPrefix();
    try {
      await use(prefix);
    } finally {
      const nc = await connectTestNats();
      await deleteTestStreams(nc, prefix);
      await nc.close();
    }
  },
  // biome-ignore lint/correctness/noEmptyPattern: vitest reads a fixture's own dependencies from this pattern.
  privateNats: async ({}, use) => {
    const server = await createPrivateNatsServer();
    try {
      await use(server);
    } finally {
      await server.dispose();
    }
  },
});
