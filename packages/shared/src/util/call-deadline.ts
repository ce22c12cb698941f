// Bounds how long one call to the outside may take. The call gets an AbortSignal so it can
// cancel its request, and the deadline holds even for a call that ignores the signal.
import { CrowsnestError } from "../errors/crowsnest-error.ts";

export class CallTimeoutError extends CrowsnestError {
  readonly timeoutMs: number;
  constructor(what: string, timeoutMs: number) {
    super("call_timeout", `${what} did not answer within ${timeoutMs} ms`);
    this.timeoutMs = timeoutMs;
  }
}

export async function withDeadline<T>(
  what: string,
  timeoutMs: number,
  call: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      const error = new CallTimeoutError(what, timeoutMs);
      controller.abort(error);
      reject(error);
    }, timeoutMs);
  });
  try {
    return await Promise.race([call(controller.signal), expired]);
  } finally {
    clearTimeout(timer);
  }
}
