// Composition root of the watcher: runs the runtime-neutral core (watcher-service.ts) under the
// one service lifecycle every service has (one fatal line on a startup failure, cleanups in
// reverse order on SIGTERM). dockerode's SSH and BuildKit parts are deferred to their first use
// before anything loads dockerode (dockerode-on-demand-parts.ts; the runtimes are imported when
// the configured one is prepared).
import { runService } from "@crowsnest/shared/agent";
import { deferDockerodeOptionalParts } from "./dockerode-on-demand-parts.ts";
import { runWatcher } from "./watcher-service.ts";

deferDockerodeOptionalParts();
runService("watcher", runWatcher);
