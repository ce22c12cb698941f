// Composition root of the watcher: runs the runtime-neutral core (watcher-service.ts) under the
// one service lifecycle every service has (one fatal line on a startup failure, cleanups in
// reverse order on SIGTERM).
import { runService } from "@crowsnest/shared";
import { runWatcher } from "./watcher-service.ts";

runService("watcher", runWatcher);
