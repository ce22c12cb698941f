// docker-compose.yml's `nats-auth` step, run once before NATS starts: per-host NATS users for
// this Docker host (its collector and watcher), the store and the api, written with the
// project's generator (`pnpm nats-auth`, docs/nats-security.md) into the volume it shares with
// NATS and the services:
//   authorization.conf, nats.conf   what the nats service runs with
//   crowsnest-store.env, crowsnest-api.env, agent.env (this host's user)
//                                   what each service reads through CROWSNEST_NATS_CREDENTIALS_FILE
// The credentials are made once and kept: NATS and the services may restart in any order. The
// host name is CROWSNEST_HOST_NAME, else the name dockerd reports (as the agents take it).
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { join } from "node:path";

const directory = process.env.CROWSNEST_NATS_AUTH_DIR || "/etc/crowsnest/nats-auth";
const prefix = process.env.CROWSNEST_SUBJECT_PREFIX || "crowsnest";
const socket = process.env.CROWSNEST_DOCKER_SOCKET || "/var/run/docker.sock";
const generator = new URL("../packages/shared/dist/nats/nats-auth-main.js", import.meta.url).pathname;

function log(level, msg, fields = {}) {
  process.stdout.write(
    `${JSON.stringify({ level, time: new Date().toISOString(), service: "nats-auth", msg, ...fields })}\n`,
  );
}

function fail(msg, fields) {
  log("fatal", msg, fields);
  process.exit(1);
}

/** dockerd's name for this host, from GET /info on its (proxied) socket. */
function dockerHostName() {
  return new Promise((resolve, reject) => {
    const call = request({ socketPath: socket, path: "/info", timeout: 5000 }, (response) => {
      let body = "";
      response.setEncoding("utf8");
      response.on("data", (chunk) => {
        body += chunk;
      });
      response.on("end", () => {
        try {
          const name = JSON.parse(body).Name;
          if (typeof name === "string" && name.trim() !== "") resolve(name.trim());
          else reject(new Error(`dockerd answered ${response.statusCode} without a Name`));
        } catch (error) {
          reject(error);
        }
      });
    });
    call.on("timeout", () => call.destroy(new Error("dockerd did not answer /info in 5 s")));
    call.on("error", reject);
    call.end();
  });
}

async function hostName() {
  const configured = process.env.CROWSNEST_HOST_NAME?.trim();
  if (configured) return configured;
  for (let attempt = 1; ; attempt++) {
    try {
      return await dockerHostName();
    } catch (error) {
      if (attempt === 30)
        fail(`cannot read the host name from dockerd at ${socket}; set CROWSNEST_HOST_NAME`, {
          err: String(error),
        });
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }
}

const host = await hostName();
const madeFor = `${JSON.stringify({ host, prefix })}\n`;
const markerPath = join(directory, "made-for.json");
if (existsSync(markerPath)) {
  if (readFileSync(markerPath, "utf8") === madeFor) {
    log("info", "NATS users exist; kept", { host, prefix });
    process.exit(0);
  }
  // NATS runs with the users it read at start: new ones would not reach it without a restart.
  fail(
    `the NATS users in the nats-auth volume were made for ${readFileSync(markerPath, "utf8").trim()}, not for host "${host}" and prefix "${prefix}": remove the volume (docker compose down, then docker volume rm <project>_nats-auth) and start again`,
  );
}

const hostsFile = join(directory, "hosts");
writeFileSync(hostsFile, `${host}\n`, { mode: 0o600 });
const generated = spawnSync(
  process.execPath,
  [generator, "--out", directory, "--hosts-file", hostsFile, "--prefix", prefix],
  { encoding: "utf8" },
);
if (generated.status !== 0)
  fail("the NATS users could not be written", { output: `${generated.stdout}${generated.stderr}` });
const hostUserFiles = readdirSync(directory).filter(
  (name) => name.startsWith("host-") && name.endsWith(".env"),
);
if (hostUserFiles.length !== 1) fail(`expected one host user, found ${hostUserFiles.join(", ") || "none"}`);
copyFileSync(join(directory, hostUserFiles[0]), join(directory, "agent.env"));
writeFileSync(
  join(directory, "nats.conf"),
  [
    "# Written by docker/nats-auth-init.mjs for docker-compose.yml's nats service.",
    "port: 4222",
    "http_port: 8222",
    "jetstream { store_dir: /data }",
    "include authorization.conf",
    "",
  ].join("\n"),
  { mode: 0o600 },
);
writeFileSync(markerPath, madeFor, { mode: 0o600 });
log("info", "NATS users written", {
  host,
  prefix,
  users: [hostUserFiles[0].replace(/\.env$/, ""), "crowsnest-store", "crowsnest-api"],
});
