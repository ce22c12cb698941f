// The api's container healthcheck, run by Docker inside the container:
//   node docker/healthcheck.mjs http://127.0.0.1:8080/healthz   healthy when the URL answers 2xx
// (The other services' healthchecks test the age of their liveness file with `find`, which costs
// a sixteenth of starting Node: see the Dockerfile.)
const [target] = process.argv.slice(2);
if (!target || !/^https?:\/\//.test(target)) {
  console.error("usage: healthcheck.mjs <url>");
  process.exit(2);
}
try {
  const response = await fetch(target, { signal: AbortSignal.timeout(3000) });
  process.exit(response.ok ? 0 : 1);
} catch (error) {
  console.error(String(error));
  process.exit(1);
}
