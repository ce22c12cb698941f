// Each HTTP-style channel's request as its service receives it, on a real HTTP receiver on
// loopback: Slack and Discord incoming webhooks, ntfy's JSON publish, the generic webhook; and how
// the channel's answers are classified (sent, retry, give up).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type HttpReceiver, startHttpReceiver } from "../../../../test/support/http-receiver.ts";
import { type ChannelTarget, parseChannelTarget } from "./channel-config.ts";
import { sendNotification } from "./channel-sender.ts";
import type { AlertNotification } from "./notification.ts";

const fired: AlertNotification = {
  v: 1,
  type: "alert_transition",
  transition_id: "17",
  ts: "2026-12-04T10:00:00.000Z",
  host: "node-1",
  runtime: "docker",
  container: { id: 42, name: "web-1", external_id: "abc", labels: { team: "shop" } },
  metric: "memory",
  change: "fired",
  severity: "warning",
  value: 93.25,
  threshold: 90,
  previous_state: "normal",
  new_state: "mem_alert",
  fired_at: null,
  duration_s: null,
  url: "https://crowsnest.example.test/containers/42",
  folded: null,
};
const resolved: AlertNotification = {
  ...fired,
  transition_id: "18",
  ts: "2026-12-04T10:12:30.000Z",
  change: "resolved",
  severity: "info",
  value: 40,
  previous_state: "mem_alert",
  new_state: "normal",
  fired_at: "2026-12-04T10:00:00.000Z",
  duration_s: 750,
};
const noEmail = async () => ({ ok: false, permanent: true, answer: "no email in this test" });

function target(type: string, settings: object, secrets: object): ChannelTarget {
  const parsed = parseChannelTarget({ id: 1, name: "c", type, settings, secrets });
  if (!parsed.ok) throw new Error(parsed.detail);
  return parsed.target;
}

describe("channel formats on a real receiver", () => {
  let receiver: HttpReceiver;
  const send = (channel: ChannelTarget, notification = fired) =>
    sendNotification(channel, notification, { timeoutMs: 5000, email: noEmail });
  const lastBody = () => JSON.parse(receiver.requests.at(-1)?.body ?? "null");

  beforeAll(async () => {
    receiver = await startHttpReceiver();
  });
  afterAll(async () => {
    await receiver.stop();
  });

  it("posts Slack an incoming-webhook message saying what, where, how much and since when", async () => {
    const slack = target("slack", {}, { webhook_url: `${receiver.url}/services/T0/B0/slack-token` });
    expect(await send(slack)).toEqual({ ok: true, permanent: false, answer: "HTTP 200: ok" });
    expect(receiver.requests.at(-1)?.path).toBe("/services/T0/B0/slack-token");
    const body = lastBody();
    expect(body.text).toBe(
      [
        "*[FIRING] Memory on web-1 @ node-1*",
        "93.3% of memory limit (threshold 90)",
        "State: normal → mem_alert",
        "Since 2026-12-04T10:00:00.000Z",
        "https://crowsnest.example.test/containers/42",
      ].join("\n"),
    );
    expect(body.blocks).toEqual([{ type: "section", text: { type: "mrkdwn", text: body.text } }]);
    await send(slack, resolved);
    expect(lastBody().text).toContain("Lasted 12m 30s (since 2026-12-04T10:00:00.000Z)");
    await send(slack, { ...resolved, folded: { count: 7, since: "2026-12-04T09:58:00.000Z" } });
    expect(lastBody().text).toContain(
      "7 transitions of this container since 2026-12-04T09:58:00.000Z (flapping)",
    );
  });

  it("posts Discord an embed coloured by severity, with mentions disabled", async () => {
    receiver.respond = () => ({ status: 204 });
    const discord = target("discord", {}, { webhook_url: `${receiver.url}/api/webhooks/1/discord-token` });
    expect(await send(discord, resolved)).toEqual({ ok: true, permanent: false, answer: "HTTP 204" });
    receiver.respond = () => ({ status: 200, body: "ok" });
    expect(lastBody()).toEqual({
      allowed_mentions: { parse: [] },
      embeds: [
        {
          title: "[RESOLVED] Memory on web-1 @ node-1",
          description: [
            "40% of memory limit (threshold 90)",
            "State: mem_alert → normal",
            "Lasted 12m 30s (since 2026-12-04T10:00:00.000Z)",
            "https://crowsnest.example.test/containers/42",
          ].join("\n"),
          color: 0x2e7d32,
          timestamp: "2026-12-04T10:12:30.000Z",
          url: "https://crowsnest.example.test/containers/42",
        },
      ],
    });
  });

  it("publishes to an ntfy topic as JSON, with priority, tag, click link and the access token", async () => {
    const ntfy = target(
      "ntfy",
      { server_url: `${receiver.url}/` },
      { topic: "crowsnest-ops", token: "tk_secret" },
    );
    await send(ntfy, { ...fired, metric: "oom", severity: "critical", value: null, threshold: null });
    const request = receiver.requests.at(-1);
    expect(request?.path).toBe("/");
    expect(request?.headers.authorization).toBe("Bearer tk_secret");
    expect(lastBody()).toEqual({
      topic: "crowsnest-ops",
      title: "[FIRING] OOM kill on web-1 @ node-1",
      message:
        "State: normal → mem_alert\nSince 2026-12-04T10:00:00.000Z\nhttps://crowsnest.example.test/containers/42",
      priority: 5,
      tags: ["rotating_light"],
      click: "https://crowsnest.example.test/containers/42",
    });
  });

  it("retries 5xx, 408 and 429, gives up on other 4xx and on a redirect (never followed)", async () => {
    const hook = target("webhook", { url: `${receiver.url}/hook` }, {});
    const outcomes: [number, boolean][] = [];
    for (const status of [500, 503, 408, 429, 400, 401, 404, 410, 302]) {
      receiver.respond = () => ({ status, body: `status ${status}` });
      const result = await send(hook);
      expect(result.ok).toBe(false);
      expect(result.answer).toBe(`HTTP ${status}: status ${status}`);
      outcomes.push([status, result.permanent]);
    }
    receiver.respond = () => ({ status: 200, body: "ok" });
    expect(outcomes).toEqual([
      [500, false],
      [503, false],
      [408, false],
      [429, false],
      [400, true],
      [401, true],
      [404, true],
      [410, true],
      [302, true],
    ]);
  });

  it("reports a receiver that does not answer in time, and cuts long answers", async () => {
    const hook = target("webhook", { url: `${receiver.url}/slow` }, {});
    receiver.respond = () => ({ status: 500, body: "x".repeat(5000) });
    const long = await send(hook);
    expect(long.answer).toHaveLength(500);
    const silent = await startHttpReceiver();
    // Accept the connection and never answer: the request hangs until the timeout.
    silent.respond = () => "never";
    const result = await sendNotification(target("webhook", { url: `${silent.url}/x` }, {}), fired, {
      timeoutMs: 300,
      email: noEmail,
    });
    expect(result).toEqual({
      ok: false,
      permanent: false,
      answer: "could not reach the channel: no answer within the timeout",
    });
    await silent.stop();
    receiver.respond = () => ({ status: 200, body: "ok" });
  });
});
