// Every open live stream of this api instance: enforces the limit on concurrent streams and
// closes them all on shutdown, so SIGTERM is not held up by clients that never disconnect.
// The bus is asked for at each open: the api serves before NATS first answers, and a stream
// asked for before then is a 503.
import { ApiError } from "../http/api-error.ts";
import {
  type LiveBus,
  type LiveCursor,
  type LiveFeed,
  type LiveFeedLimits,
  type LiveFilters,
  openLiveFeed,
} from "./live-feed.ts";

export class LiveHub {
  readonly #bus: () => LiveBus | undefined;
  readonly #maxStreams: number;
  readonly #open = new Set<LiveFeed>();

  constructor(options: { bus: () => LiveBus | undefined; maxStreams: number }) {
    this.#bus = options.bus;
    this.#maxStreams = options.maxStreams;
  }

  async open(filters: LiveFilters, resume: LiveCursor, limits: LiveFeedLimits): Promise<LiveFeed> {
    if (this.#open.size >= this.#maxStreams) {
      throw new ApiError(
        "service_unavailable",
        `this instance already serves ${this.#maxStreams} live streams`,
      );
    }
    const bus = this.#bus();
    if (bus === undefined) throw new ApiError("service_unavailable", "not connected to NATS yet");
    let feed: LiveFeed;
    try {
      feed = await openLiveFeed(bus, filters, resume, limits);
    } catch (error) {
      throw new ApiError("service_unavailable", `the bus is not reachable: ${(error as Error).message}`);
    }
    this.#open.add(feed);
    const close = feed.close.bind(feed);
    return Object.assign(feed, {
      close: async () => {
        this.#open.delete(feed);
        await close();
      },
    });
  }

  get openStreams(): number {
    return this.#open.size;
  }

  async closeAll(): Promise<void> {
    await Promise.all([...this.#open].map((feed) => feed.close()));
  }
}
