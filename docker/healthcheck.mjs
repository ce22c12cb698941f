// Container healthcheck for every Crowsnest service, run by Docker inside the container:
//   node docker/healthcheck.mjs http://127.0.0.1:8080/healthz   healthy when the URL answers 2xx
//   node docker/healthcheck.mjs /tmp/crowsnest.alive 60          healthy when the service's liveness
//                                                                file was rewritten in the last 60 s
import { statSync } from "node:fs";

const [target, maxAgeSeconds = "60"] = process.argv.slice(2);
if (!target) {
  console.error("usage: healthcheck.mjs <url | liveness file> [max age in seconds]");
  process.exit(2);
}
try {
  if (/^https?:\/\//.test(target)) {
    const response = await fetch(target, { signal: AbortSignal.timeout(3000) });
    process.exit(response.ok ? 0 : 1);
  }
  const ageMs = Date.now() - statSync(target).mtimeMs;
  process.exit(ageMs <= Number(maxAgeSeconds) * 1000 ? 0 : 1);
} catch (error) {
  console.error(String(error));
  process.exit(1);
}
