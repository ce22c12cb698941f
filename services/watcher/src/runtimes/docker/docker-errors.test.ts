import { describe, expect, it } from "vitest";
import { classifyDockerError, DockerNotFoundError, dockerErrorMessage } from "./docker-errors.ts";

/** An error as docker-modem builds it from a dockerd answer. */
function modemError(statusCode: number, message: string): Error {
  return Object.assign(new Error(`(HTTP code ${statusCode}) unexpected - ${message} `), {
    statusCode,
    json: { message },
  });
}

describe("classifyDockerError", () => {
  it("tells a missing container, a bad request and an unreachable dockerd apart", () => {
    expect(classifyDockerError(new DockerNotFoundError("web"))).toBe("not_found");
    expect(classifyDockerError(modemError(404, "No such container: web"))).toBe("not_found");
    expect(classifyDockerError(modemError(400, "bad parameter"))).toBe("bad_request");
    // What dockerd 20.10 answers for an id prefix of several containers.
    expect(classifyDockerError(modemError(500, "Multiple IDs found with provided prefix: 3"))).toBe(
      "bad_request",
    );
    expect(classifyDockerError(modemError(500, "server error"))).toBe("unavailable");
    expect(
      classifyDockerError(
        Object.assign(new Error("connect ENOENT /var/run/docker.sock"), { code: "ENOENT" }),
      ),
    ).toBe("unavailable");
  });

  it("gives dockerd's own message", () => {
    expect(dockerErrorMessage(modemError(500, "Multiple IDs found with provided prefix: 3"))).toBe(
      "Multiple IDs found with provided prefix: 3",
    );
    expect(dockerErrorMessage(new Error("socket hang up"))).toBe("socket hang up");
  });
});
