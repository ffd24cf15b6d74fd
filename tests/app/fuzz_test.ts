/**
 * Hostile input: a few thousand generated bad requests (seeded, so every run
 * sends the same ones) — broken JSON, wrong types, deep nesting, huge
 * strings, invalid UTF-8, wrong content types, duplicate keys, absurd numbers,
 * non-object bodies. Every one must get a 4xx JSON error, none a 5xx; the
 * server stays healthy and starts no CLI for any of them.
 */
import assert from "node:assert/strict";
import { AUTH, startServer } from "../support/harness.ts";
import { recordedPids } from "../support/processes.ts";

const CASES = 3000;
const MAX_BODY_BYTES = 256 * 1024;

/** mulberry32: a small seeded generator, so failures reproduce. */
function generator(seed: number) {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (min: number, max: number) => min + Math.floor(next() * (max - min + 1));
  const pick = <T>(items: readonly T[]): T => items[int(0, items.length - 1)]!;
  return { next, int, pick };
}

interface Case {
  kind: string;
  path: string;
  body: Uint8Array<ArrayBuffer>;
  contentType?: string;
  auth?: boolean;
}

const encoder = new TextEncoder();
const json = (value: unknown) => JSON.stringify(value);
const chatBody = () => ({ model: "haiku", messages: [{ role: "user", content: "hi" }] });

/** Values that are wrong for a field whatever else the body holds. */
const BAD_CHAT_FIELDS: Record<string, unknown[]> = {
  messages: ["hi", 1, {}, null, [], [1], ["hi"], [[]], [null], true],
  model: [1, "", [], {}, "gpt-4", "haiku ", "../../etc/passwd", true],
  stream: ["yes", 1, {}, [], "true"],
  temperature: ["hot", -1, 3, [], {}, true],
  top_p: [2, -0.5, "x", []],
  n: [0, 1.5, -1, "1", [], 2],
  max_tokens: [0, -1, 1.5, "10", {}],
  max_completion_tokens: [0, -3, 2.5, "x"],
  stop: [1, [1], Array.from({ length: 17 }, () => "s"), {}],
  seed: [1.5, "x", {}],
  stream_options: ["x", 1, { include_usage: "yes" }],
  response_format: ["json", 1, { type: 1 }],
  metadata: ["x", 1, [1]],
  user: [1, {}, []],
};

const BAD_MESSAGES: unknown[] = [
  { role: 1, content: "hi" },
  { role: "robot", content: "hi" },
  { role: "", content: "hi" },
  { role: null, content: "hi" },
  { role: "user", content: 1 },
  { role: "user", content: {} },
  { role: "user", content: true },
  { role: "user", content: [1] },
  { role: "user", content: [{ type: "text" }] },
  { role: "user", content: [{ type: "video", url: "x" }] },
  { role: "user", content: [{ type: "image_url" }] },
  { role: "user", content: [{ type: "text", text: 5 }] },
  { role: "user", content: "hi", name: "n".repeat(300) },
  "hi",
  42,
  null,
];

const BAD_EXECUTE: unknown[] = [
  {},
  { prompt: "" },
  { prompt: 1 },
  { prompt: null },
  { prompt: [] },
  { prompt: {} },
  { prompt: "hi", model: 1 },
  { prompt: "hi", model: "gpt-4" },
  { prompt: "hi", agent: "no-such-agent" },
  { prompt: "hi", agent: 1 },
  { prompt: "hi", agent: "" },
];

const ABSURD_NUMBERS = ["1e999", "-1e999", "1e308", "-1e308", "9007199254740993", "1e400"];

function nested(depth: number, open: string, close: string, inner = "1"): string {
  return open.repeat(depth) + inner + close.repeat(depth);
}

function makeCase(random: ReturnType<typeof generator>): Case {
  const { int, pick } = random;
  const chat = (body: string, kind: string): Case => ({
    kind,
    path: "/v1/chat/completions",
    body: encoder.encode(body),
  });
  const kinds = [
    () => {
      // Broken JSON: a strict prefix of an object, or a JSON-ish mistake.
      const text = json({ ...chatBody(), stream: random.next() < 0.5 });
      const broken = [
        text.slice(0, int(0, text.length - 1)),
        text.replace("}", ",}"),
        text.replaceAll('"', "'"),
        text.replace('"hi"', "NaN"),
        text.replace('"hi"', "undefined"),
        "/* c */" + text,
        text + "garbage",
        text + "{}",
        text.replace(":", ""),
        "{model: haiku}",
        "\u0000" + text,
      ];
      return chat(pick(broken), "broken json");
    },
    () => {
      const [field, values] = pick(Object.entries(BAD_CHAT_FIELDS));
      return chat(json({ ...chatBody(), [field]: pick(values) }), `wrong type: ${field}`);
    },
    () => {
      const messages = [{ role: "user", content: "hi" }];
      messages.splice(int(0, 1), 0, pick(BAD_MESSAGES) as never);
      return chat(json({ model: "haiku", messages }), "bad message");
    },
    () => ({
      kind: "bad execute",
      path: "/execute",
      body: encoder.encode(json(pick(BAD_EXECUTE))),
    }),
    () => {
      const depth = pick([65, 66, 100, 1000, 20_000]);
      const where = pick([
        () =>
          `{"model":"haiku","messages":[{"role":"user","content":"hi"}],"metadata":${
            nested(depth, '{"a":', "}")
          }}`,
        () => `{"model":"haiku","messages":${nested(depth, "[", "]", "")}}`,
        () => `{"prompt":"hi","extra":${nested(depth, "[", "]")}}`,
      ])();
      return chat(where, `deep nesting ${depth}`);
    },
    () => {
      const size = pick([10_000, 100_000, 200_000, 300_000, 1_000_000]);
      const huge = "h".repeat(size);
      const body = pick([
        () => json({ model: huge, messages: [{ role: "user", content: "hi" }] }),
        () => json({ model: "haiku", messages: [{ role: huge, content: "hi" }] }),
        () => json({ [huge]: 1, messages: "x" }),
        () => json({ ...chatBody(), messages: [{ role: "user", content: huge }], n: 0 }),
        () => json({ prompt: huge, agent: "no-such-agent" }),
      ])();
      return chat(body, `huge string ${size}`);
    },
    () => {
      // Invalid UTF-8 inside an otherwise valid body.
      const bad = pick([[0xff], [0xc3, 0x28], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0xf8, 0x88], [
        0xe2,
        0x82,
      ]]);
      const text = json({ ...chatBody(), messages: [{ role: "user", content: "a-b" }] });
      const at = text.indexOf("a-b") + 1;
      const bytes = encoder.encode(text);
      const body = new Uint8Array([...bytes.subarray(0, at), ...bad, ...bytes.subarray(at + 1)]);
      return { kind: "invalid utf-8", path: "/v1/chat/completions", body };
    },
    () => ({
      kind: "wrong content type",
      path: pick(["/v1/chat/completions", "/execute"]),
      body: encoder.encode(json({ ...chatBody(), prompt: "hi" })),
      contentType: pick([
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/xml",
        "json",
        "text/json",
        "application/jsonp",
        "image/png",
        "",
      ]),
    }),
    () => {
      const body = pick([
        '{"model":"haiku","model":"haiku","messages":[{"role":"user","content":"hi"}]}',
        '{"model":"haiku","messages":[{"role":"user","role":"user","content":"hi"}]}',
        '{"model":"haiku","messages":[{"role":"user","content":"hi","content":"yo"}]}',
        '{"messages":[],"model":"haiku","messages":[{"role":"user","content":"hi"}]}',
        '{"prompt":"hi","prompt":"again"}',
        '{"model":"haiku","\\u006dodel":"sonnet","messages":[{"role":"user","content":"hi"}]}',
      ]);
      return chat(body, "duplicate keys");
    },
    () => {
      const field = pick(["temperature", "top_p", "n", "max_tokens", "max_completion_tokens"]);
      const number = pick(ABSURD_NUMBERS);
      const body =
        `{"model":"haiku","messages":[{"role":"user","content":"hi"}],"${field}":${number}}`;
      return chat(body, `absurd number ${field}=${number}`);
    },
    () =>
      chat(
        pick([
          "[]",
          '"str"',
          "42",
          "null",
          "true",
          '[{"model":"haiku"}]',
          "",
          "   ",
          "\n",
          "\ufeff",
        ]),
        "not an object",
      ),
    () => ({
      kind: "oversized body",
      path: "/v1/chat/completions",
      body: encoder.encode(
        json({ ...chatBody(), messages: [{ role: "user", content: "o".repeat(MAX_BODY_BYTES) }] }),
      ),
    }),
    () => ({ ...chat(json(chatBody()), "missing key"), auth: false }),
  ];
  return pick(kinds)();
}

async function send(
  url: string,
  c: Case,
): Promise<{ status: number; body: unknown; type: string }> {
  const headers: Record<string, string> = c.auth === false ? {} : { ...AUTH };
  if (c.contentType !== undefined) headers["content-type"] = c.contentType;
  else headers["content-type"] = "application/json";
  const response = await fetch(url + c.path, { method: "POST", headers, body: c.body });
  const text = await response.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = text.slice(0, 200);
  }
  return { status: response.status, body, type: response.headers.get("content-type") ?? "" };
}

Deno.test(`${CASES} generated bad requests each get a 4xx JSON error and start no CLI`, async () => {
  const dir = await Deno.makeTempDir({ prefix: "bridge-record-" });
  try {
    await using server = await startServer(
      { MAX_BODY_BYTES: String(MAX_BODY_BYTES), LOG_LEVEL: "error" },
      { FAKE_CLAUDE_RECORD: dir },
    );
    const random = generator(0x5eed);
    const cases = Array.from({ length: CASES }, () => makeCase(random));
    const failures: string[] = [];
    const kinds = new Map<string, number>();
    let next = 0;
    const worker = async () => {
      while (next < cases.length) {
        const c = cases[next++]!;
        const { status, body, type } = await send(server.url, c);
        const kind = c.kind.replace(/ \d+$/, "");
        kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
        const error = (body as { error?: unknown } | null)?.error;
        if (
          status < 400 || status >= 500 || !type.startsWith("application/json") ||
          typeof error !== "string"
        ) {
          failures.push(`${c.kind}: ${status} ${json(body).slice(0, 200)}`);
        }
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    assert.deepEqual(
      failures.slice(0, 20),
      [],
      `${failures.length} requests were not a 4xx JSON error`,
    );
    assert.ok(kinds.size >= 12, `every kind of bad input was sent: ${[...kinds.keys()]}`);
    assert.deepEqual(recordedPids(dir), [], "a bad request started the CLI");
    const health = await fetch(server.url + "/healthz");
    assert.equal(health.status, 200);
    await health.body?.cancel();
    const ok = await server.post("/v1/chat/completions", chatBody());
    assert.equal(ok.status, 200);
    await ok.body?.cancel();
    assert.equal(recordedPids(dir).length, 1, "the stand-in records its runs");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
