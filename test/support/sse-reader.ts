// Reads a text/event-stream response event by event, the way a browser's EventSource would.

export interface SseEvent {
  event: string;
  id: string | undefined;
  data: string;
}

/** Reads a text/event-stream response event by event; comments are collected separately. */
export function sseReader(response: Response) {
  const body = response.body;
  if (!body) throw new Error("no body");
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  const comments: string[] = [];
  return {
    comments,
    async next(timeoutMs = 5000): Promise<SseEvent | undefined> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const end = buffer.indexOf("\n\n");
        if (end >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const fields: Record<string, string> = {};
          for (const line of block.split("\n")) {
            if (line.startsWith(":")) comments.push(line);
            const colon = line.indexOf(":");
            if (colon > 0) fields[line.slice(0, colon)] = line.slice(colon + 1).trimStart();
          }
          if (fields.data === undefined && fields.event === undefined) continue;
          return { event: fields.event ?? "message", id: fields.id, data: fields.data ?? "" };
        }
        const remaining = deadline - Date.now();
        if (remaining <= 0) return undefined;
        const chunk = await Promise.race([
          reader.read(),
          new Promise<"timeout">((resolve) => setTimeout(() => resolve("timeout"), remaining)),
        ]);
        if (chunk === "timeout") return undefined;
        if (chunk.done) return undefined;
        buffer += decoder.decode(chunk.value, { stream: true });
      }
    },
    cancel: () => reader.cancel(),
  };
}
