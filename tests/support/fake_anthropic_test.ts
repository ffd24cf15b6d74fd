/**
 * The fake Anthropic API itself: replies made of text, tool_use and thinking
 * blocks (streamed and whole), stop reasons, errors, delays and mid-stream
 * failure, the prompt-cache rule and its usage, and the helpers a hostile
 * model script uses.
 */
import assert from "node:assert/strict";
import {
  blockTokens,
  contentText,
  type FakeScript,
  lastUserText,
  type RecordedRequest,
  startFakeAnthropic,
  toolResults,
  toolUse,
  toolUses,
} from "./fake_anthropic.ts";

// deno-lint-ignore no-explicit-any
type Json = any;

/** POSTs a Messages API body and returns the response. */
function post(url: string, body: Record<string, unknown>): Promise<Response> {
  return fetch(`${url}/v1/messages?beta=true`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: "claude-test", max_tokens: 100, ...body }),
  });
}

/** The SSE events of a streamed reply, in order. */
async function events(response: Response): Promise<Json[]> {
  const text = await response.text();
  return text.split("\n").filter((line) => line.startsWith("data: "))
    .map((line) => JSON.parse(line.slice(6)));
}

const userMessage = (text: string, cached = false) => ({
  role: "user",
  content: [{ type: "text", text, ...(cached ? { cache_control: { type: "ephemeral" } } : {}) }],
});

const LONG = "x".repeat(5000);

Deno.test("a reply streams its blocks in order: thinking, text deltas, tool_use input fragments", async () => {
  await using fake = startFakeAnthropic([{
    content: [
      { type: "thinking", thinking: ["Let me ", "think."], signature: "sig-1" },
      { type: "text", text: ["Hel", "lo"] },
      { type: "tool_use", name: "Read", input: { file_path: "/etc/passwd" }, fragments: 3 },
      { type: "tool_use", name: "Glob", input: { pattern: "*" }, id: "toolu_given" },
    ],
  }]);
  const all = await events(await post(fake.url, { stream: true, messages: [userMessage("hi")] }));
  assert.deepEqual(all.map((e) => e.type + (e.delta?.type ? ":" + e.delta.type : "")), [
    "message_start",
    "content_block_start",
    "content_block_delta:thinking_delta",
    "content_block_delta:thinking_delta",
    "content_block_delta:signature_delta",
    "content_block_stop",
    "content_block_start",
    "content_block_delta:text_delta",
    "content_block_delta:text_delta",
    "content_block_stop",
    "content_block_start",
    "content_block_delta:input_json_delta",
    "content_block_delta:input_json_delta",
    "content_block_delta:input_json_delta",
    "content_block_stop",
    "content_block_start",
    "content_block_delta:input_json_delta",
    "content_block_stop",
    "message_delta",
    "message_stop",
  ]);
  const inputOf = (index: number) =>
    JSON.parse(
      all.filter((e) => e.index === index && e.delta?.type === "input_json_delta")
        .map((e) => e.delta.partial_json).join(""),
    );
  assert.deepEqual(inputOf(2), { file_path: "/etc/passwd" });
  assert.deepEqual(inputOf(3), { pattern: "*" });
  const starts = all.filter((e) => e.type === "content_block_start").map((e) => e.content_block);
  assert.equal(starts[2].name, "Read");
  assert.equal(starts[2].id, "toolu_fake_0_2");
  assert.equal(starts[3].id, "toolu_given");
  assert.equal(all.find((e) => e.delta?.type === "signature_delta").delta.signature, "sig-1");
  assert.equal(all.at(-2).delta.stop_reason, "tool_use");
});

Deno.test("stop reasons default to end_turn (tool_use with a call) and can be overridden", async () => {
  await using fake = startFakeAnthropic([
    { text: ["a"] },
    toolUse("Read", { file_path: "a" }),
    { text: ["cut"], stopReason: "max_tokens" },
    { text: ["no"], stopReason: "refusal" },
    { text: ["x"], stopReason: "stop_sequence", stopSequence: "END" },
  ]);
  const reasons = [];
  for (let i = 0; i < 5; i++) {
    const last = (await events(await post(fake.url, { stream: true, messages: [] }))).at(-2);
    reasons.push([last.delta.stop_reason, last.delta.stop_sequence]);
  }
  assert.deepEqual(reasons, [
    ["end_turn", null],
    ["tool_use", null],
    ["max_tokens", null],
    ["refusal", null],
    ["stop_sequence", "END"],
  ]);
});

Deno.test("a non-streaming call gets the whole message with every block", async () => {
  await using fake = startFakeAnthropic([
    toolUses([{ name: "a", input: { n: 1 } }, { name: "b", input: { n: 2 } }], ["Two calls."]),
  ]);
  const message = await (await post(fake.url, { messages: [userMessage("hi")] })).json();
  assert.deepEqual(message.content, [
    { type: "text", text: "Two calls." },
    { type: "tool_use", id: "toolu_fake_0_1", name: "a", input: { n: 1 } },
    { type: "tool_use", id: "toolu_fake_0_2", name: "b", input: { n: 2 } },
  ]);
  assert.equal(message.stop_reason, "tool_use");
});

Deno.test("HTTP errors carry their type, message and headers, after the scripted delay", async () => {
  await using fake = startFakeAnthropic([{
    status: 429,
    errorType: "rate_limit_error",
    message: "slow down",
    headers: { "retry-after": "7" },
    firstDelayMs: 50,
  }]);
  const started = performance.now();
  const response = await post(fake.url, { messages: [] });
  assert.ok(performance.now() - started >= 45);
  assert.equal(response.status, 429);
  assert.equal(response.headers.get("retry-after"), "7");
  assert.deepEqual(await response.json(), {
    type: "error",
    error: { type: "rate_limit_error", message: "slow down" },
  });
});

Deno.test("a mid-stream failure sends an error event after the text and no message_stop", async () => {
  await using fake = startFakeAnthropic([{ text: ["Half"], failAfterText: {} }]);
  const all = await events(await post(fake.url, { stream: true, messages: [] }));
  assert.deepEqual(all.map((e) => e.type), [
    "message_start",
    "content_block_start",
    "content_block_delta",
    "error",
  ]);
  assert.equal(all.at(-1).error.type, "overloaded_error");
});

Deno.test("cache: a request extending an earlier one reads exactly the earlier breakpoint's prefix", async () => {
  await using fake = startFakeAnthropic([], { cache: { minTokens: 0 } });
  const tools = [{ name: "t", description: "a tool", input_schema: { type: "object" } }];
  const system = [
    { type: "text", text: "billing" },
    { type: "text", text: "You are a test.", cache_control: { type: "ephemeral" } },
  ];
  const first = [userMessage("question one", true)];
  await (await post(fake.url, { tools, system, messages: first })).text();
  const second = [
    userMessage("question one"),
    { role: "assistant", content: [{ type: "text", text: "answer one" }] },
    userMessage("question two", true),
  ];
  await (await post(fake.url, { tools, system, messages: second })).text();

  const [one, two] = fake.posts();
  const firstPrefix = blockTokens(tools[0]) + blockTokens(system[0]) + blockTokens(system[1]) +
    blockTokens({ type: "text", text: "question one" });
  const total = firstPrefix + blockTokens({ type: "text", text: "answer one" }) +
    blockTokens({ type: "text", text: "question two" });
  assert.deepEqual(one!.usage, {
    input_tokens: 0,
    cache_creation_input_tokens: firstPrefix,
    cache_read_input_tokens: 0,
    prompt_tokens: firstPrefix,
  });
  assert.deepEqual(two!.usage, {
    input_tokens: 0,
    cache_creation_input_tokens: total - firstPrefix,
    cache_read_input_tokens: firstPrefix,
    prompt_tokens: total,
  });
  // What the client is told is what was computed.
  assert.equal(two!.reported?.cache_read_input_tokens, firstPrefix);
});

Deno.test("cache: only block boundaries written at a breakpoint are read, never a partial block", async () => {
  await using fake = startFakeAnthropic([], { cache: { minTokens: 0 } });
  const system = [{ type: "text", text: "sys", cache_control: { type: "ephemeral" } }];
  await post(fake.url, { system, messages: [userMessage("A growing transcript", true)] })
    .then((r) => r.text());
  // The same history flattened into one longer block: only the system prompt is read.
  await post(fake.url, {
    system,
    messages: [userMessage("A growing transcript, and more", true)],
  }).then((r) => r.text());
  const [, flattened] = fake.posts();
  assert.equal(
    flattened!.usage!.cache_read_input_tokens,
    blockTokens({ type: "text", text: "sys" }),
  );
});

Deno.test("cache: prefixes below the minimum are not written; a request with no breakpoint reads nothing", async () => {
  await using fake = startFakeAnthropic([]); // default minimum: 1024 tokens
  const short = [userMessage("short", true)];
  await post(fake.url, { messages: short }).then((r) => r.text());
  await post(fake.url, { messages: short }).then((r) => r.text());
  const long = [userMessage(LONG, true)];
  await post(fake.url, { messages: long }).then((r) => r.text());
  await post(fake.url, { messages: [userMessage(LONG)] }).then((r) => r.text());
  await post(fake.url, { messages: long }).then((r) => r.text());
  const usages = fake.posts().map((request) => request.usage!);
  assert.equal(usages[1]!.cache_read_input_tokens, 0, "a short prefix is never written");
  assert.equal(usages[1]!.cache_creation_input_tokens, 0);
  assert.equal(usages[2]!.cache_creation_input_tokens, blockTokens({ type: "text", text: LONG }));
  assert.equal(usages[3]!.cache_read_input_tokens, 0, "no breakpoint, no read");
  assert.equal(usages[4]!.cache_read_input_tokens, usages[4]!.prompt_tokens);
});

Deno.test("cache: entries are per model, can be turned off, and an error reply writes nothing", async () => {
  {
    await using fake = startFakeAnthropic([], { cache: { minTokens: 0 } });
    await post(fake.url, { messages: [userMessage("q", true)] }).then((r) => r.text());
    await post(fake.url, { model: "other", messages: [userMessage("q", true)] })
      .then((r) => r.text());
    assert.equal(fake.posts()[1]!.usage!.cache_read_input_tokens, 0);
  }
  {
    await using fake = startFakeAnthropic([], { cache: { enabled: false } });
    await post(fake.url, { messages: [userMessage(LONG, true)] }).then((r) => r.text());
    await post(fake.url, { messages: [userMessage(LONG, true)] }).then((r) => r.text());
    const usage = fake.posts()[1]!.usage!;
    assert.equal(usage.input_tokens, usage.prompt_tokens);
  }
  {
    await using fake = startFakeAnthropic([{ status: 529 }, {}], { cache: { minTokens: 0 } });
    await post(fake.url, { messages: [userMessage("q", true)] }).then((r) => r.text());
    await post(fake.url, { messages: [userMessage("q", true)] }).then((r) => r.text());
    assert.equal(fake.posts()[1]!.usage!.cache_read_input_tokens, 0);
  }
});

Deno.test("cache: more than four breakpoints is the API's 400", async () => {
  await using fake = startFakeAnthropic([]);
  const cached = { type: "text", text: "t", cache_control: { type: "ephemeral" } };
  const response = await post(fake.url, {
    messages: [{ role: "user", content: [cached, cached, cached, cached, cached] }],
  });
  assert.equal(response.status, 400);
  assert.match((await response.json()).error.message, /maximum of 4 blocks with cache_control/);
});

Deno.test("usage: scripted fields win; a scripted prompt side replaces the computed one", async () => {
  await using fake = startFakeAnthropic([
    { text: ["a", "b", "c"] },
    { usage: { output_tokens: 9 } },
    { usage: { input_tokens: 12, output_tokens: 5 } },
  ], { cache: { minTokens: 0 } });
  const messages = [userMessage(LONG, true)];
  for (let i = 0; i < 3; i++) await post(fake.url, { messages }).then((r) => r.text());
  const [first, second, third] = fake.posts().map((request) => request.reported!);
  assert.equal(first!.output_tokens, 3, "one output token per delta");
  assert.equal(first!.cache_creation_input_tokens, blockTokens(messages[0]!.content[0]));
  assert.equal(second!.output_tokens, 9);
  assert.ok(second!.cache_read_input_tokens > 0, "computed fields stay when not scripted");
  assert.deepEqual(third, {
    input_tokens: 12,
    output_tokens: 5,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: 0,
  });
});

Deno.test("a hostile script answers from the tool results the client sent back", async () => {
  const script: FakeScript = (request: RecordedRequest) => {
    const results = toolResults(request);
    if (results.length === 0) return toolUse("Read", { file_path: "/etc/passwd" });
    const [result] = results;
    return { text: [result!.is_error ? `refused: ${result!.text}` : `leaked: ${result!.text}`] };
  };
  await using fake = startFakeAnthropic(script);
  const first = await (await post(fake.url, { messages: [userMessage("go")] })).json();
  const call = first.content[0];
  assert.deepEqual([call.name, call.input], ["Read", { file_path: "/etc/passwd" }]);
  const second = await (await post(fake.url, {
    messages: [
      userMessage("go"),
      { role: "assistant", content: [call] },
      {
        role: "user",
        content: [{
          type: "tool_result",
          tool_use_id: call.id,
          is_error: true,
          content: [{ type: "text", text: "outside the workspace" }],
        }],
      },
    ],
  })).json();
  assert.equal(second.content[0].text, "refused: outside the workspace");
  assert.deepEqual(toolResults(fake.posts()[1]!), [
    { tool_use_id: call.id, is_error: true, text: "outside the workspace" },
  ]);
  assert.equal(lastUserText(fake.posts()[0]!), "go");
  assert.equal(contentText("plain"), "plain");
});
