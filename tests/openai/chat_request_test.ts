/**
 * The Chat Completions request in the engine's terms: messages as a neutral
 * conversation (instructions, turns, tool calls and results, the legacy
 * functions API) and the options a run takes; everything the bridge cannot
 * honour is a 400 whose `param` names the field.
 */
import assert from "node:assert/strict";
import { HttpError } from "../../src/http/http_error.ts";
import { chatOptions, chatRequestSchema, toConversation } from "../../src/openai/chat_request.ts";
import { ANY_OBJECT_SCHEMA, effortOf } from "../../src/openai/request_fields.ts";

const PNG = "data:image/png;base64,iVBORw0KGgo=";

const request = (body: Record<string, unknown>) =>
  chatRequestSchema.parse({
    model: "sonnet",
    messages: [{ role: "user", content: "hi" }],
    ...body,
  });
const conversation = (messages: unknown[], body: Record<string, unknown> = {}) =>
  toConversation(request({ messages, ...body }));
const options = (body: Record<string, unknown>) => chatOptions(request(body));

/** Asserts a 400 naming `param` (and `code`, and the message when given). */
function rejects(run: () => unknown, param: string, code: string, message?: RegExp): void {
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof HttpError, String(error));
    assert.equal(error.status, 400);
    assert.equal(error.code, code);
    assert.equal(error.fields.param, param);
    if (message) assert.match(error.message, message);
    return true;
  });
}

// ------------------------------------------------------------ toConversation

Deno.test("system and developer messages become the instructions, in order", () => {
  const result = conversation([
    { role: "system", content: "Be brief." },
    { role: "user", content: "hi" },
    {
      role: "developer",
      content: [{ type: "text", text: "Answer " }, { type: "text", text: "in French." }],
    },
  ]);
  assert.deepEqual(result.instructions, ["Be brief.", "Answer in French."]);
  assert.deepEqual(result.turns, [{ role: "user", content: [{ type: "text", text: "hi" }] }]);
  assert.deepEqual(result.tools, []);
});

Deno.test("400: a system message without content, or with a non-text part", () => {
  rejects(
    () => conversation([{ role: "system" }, { role: "user", content: "hi" }]),
    "messages[0].content",
    "invalid request",
    /required for system messages/,
  );
  rejects(
    () => conversation([{ role: "developer", content: [{ type: "image_url" }] }]),
    "messages[0].content[0].type",
    "unsupported parameter",
    /only text parts/,
  );
});

Deno.test("user messages: text, text parts and inline images; neighbours merge", () => {
  const result = conversation([
    { role: "user", content: "Look:" },
    {
      role: "user",
      content: [
        { type: "text", text: "this" },
        { type: "image_url", image_url: { url: PNG, detail: "high" } },
      ],
    },
  ]);
  assert.deepEqual(result.turns, [{
    role: "user",
    content: [
      { type: "text", text: "Look:" },
      { type: "text", text: "this" },
      { type: "image", mediaType: "image/png", data: "iVBORw0KGgo=" },
    ],
  }]);
});

Deno.test("400: a user message needs content", () => {
  rejects(
    () => conversation([{ role: "user" }]),
    "messages[0].content",
    "invalid request",
    /required for user messages/,
  );
  rejects(
    () => conversation([{ role: "user", content: null }]),
    "messages[0].content",
    "invalid request",
  );
});

Deno.test("400: a user part of another type, or an image_url without a string url", () => {
  rejects(
    () => conversation([{ role: "user", content: [{ type: "input_audio", input_audio: {} }] }]),
    "messages[0].content[0].type",
    "unsupported parameter",
    /text and image_url parts/,
  );
  rejects(
    () => conversation([{ role: "user", content: [{ type: "image_url", image_url: {} }] }]),
    "messages[0].content[0].image_url.url",
    "invalid request",
  );
});

Deno.test(
  {
    name: "400: a remote image names its param",
  },
  () => {
    rejects(
      () =>
        conversation([{
          role: "user",
          content: [{ type: "image_url", image_url: { url: "https://x.test/a.png" } }],
        }]),
      "messages[0].content[0].image_url.url",
      "unsupported image",
    );
  },
);

Deno.test("a remote image is a 400 telling the client to inline it", () => {
  assert.throws(
    () =>
      conversation([{
        role: "user",
        content: [{ type: "image_url", image_url: { url: "https://x.test/a.png" } }],
      }]),
    (error: unknown) =>
      error instanceof HttpError && error.status === 400 && /data URL/.test(error.message),
  );
});

Deno.test("assistant tool_calls become tool_use blocks with parsed arguments", () => {
  const result = conversation([
    { role: "user", content: "Weather?" },
    {
      role: "assistant",
      content: "Checking.",
      tool_calls: [
        {
          id: "call_1",
          type: "function",
          function: { name: "get_weather", arguments: '{"city":"Paris"}' },
        },
        { id: "call_2", type: "function", function: { name: "now", arguments: "" } },
      ],
    },
    { role: "tool", tool_call_id: "call_1", content: "18C" },
    { role: "tool", tool_call_id: "call_2", content: [{ type: "text", text: "noon" }] },
  ]);
  assert.deepEqual(result.turns, [
    { role: "user", content: [{ type: "text", text: "Weather?" }] },
    {
      role: "assistant",
      content: [
        { type: "text", text: "Checking." },
        { type: "tool_use", id: "call_1", name: "get_weather", input: { city: "Paris" } },
        { type: "tool_use", id: "call_2", name: "now", input: {} },
      ],
    },
    {
      role: "user",
      content: [
        { type: "tool_result", toolUseId: "call_1", content: "18C" },
        { type: "tool_result", toolUseId: "call_2", content: "noon" },
      ],
    },
  ]);
});

Deno.test("400: tool call arguments that are not a JSON object", () => {
  for (const args of ["[1,2]", "5", '"text"', "null", "{broken"]) {
    rejects(
      () =>
        conversation([
          { role: "user", content: "x" },
          {
            role: "assistant",
            tool_calls: [{ id: "c", type: "function", function: { name: "f", arguments: args } }],
          },
        ]),
      "messages[1].tool_calls[0].function.arguments",
      "invalid request",
      /must be a JSON object encoded as a string/,
    );
  }
});

Deno.test("an empty assistant message adds nothing; refusal parts count as text", () => {
  const empty = conversation([
    { role: "user", content: "a" },
    { role: "assistant", content: null },
    { role: "assistant", content: "" },
    { role: "user", content: "b" },
  ]);
  assert.deepEqual(empty.turns, [{
    role: "user",
    content: [{ type: "text", text: "a" }, { type: "text", text: "b" }],
  }]);
  const refusal = conversation([
    { role: "user", content: "a" },
    { role: "assistant", content: [{ type: "refusal", refusal: "I can't." }] },
  ]);
  assert.deepEqual(refusal.turns[1], {
    role: "assistant",
    content: [{ type: "text", text: "I can't." }],
  });
});

Deno.test("400: a tool message without tool_call_id or content", () => {
  rejects(
    () => conversation([{ role: "tool", content: "x" }]),
    "messages[0].tool_call_id",
    "invalid request",
    /name the call this result answers/,
  );
  rejects(
    () => conversation([{ role: "tool", tool_call_id: "c" }]),
    "messages[0].content",
    "invalid request",
  );
});

Deno.test("legacy function_call and function messages pair up as a tool call and its result", () => {
  const result = conversation([
    { role: "user", content: "Weather?" },
    {
      role: "assistant",
      content: null,
      function_call: { name: "get_weather", arguments: '{"c":1}' },
    },
    { role: "function", name: "get_weather", content: "18C" },
  ]);
  assert.deepEqual(result.turns.slice(1), [
    {
      role: "assistant",
      content: [{ type: "tool_use", id: "call_legacy_1", name: "get_weather", input: { c: 1 } }],
    },
    {
      role: "user",
      content: [{ type: "tool_result", toolUseId: "call_legacy_1", content: "18C" }],
    },
  ]);
});

Deno.test("400: a function message with no function_call before it, or a second one", () => {
  rejects(
    () => conversation([{ role: "function", name: "f", content: "x" }]),
    "messages[0]",
    "invalid request",
    /no assistant function_call before it/,
  );
  rejects(
    () =>
      conversation([
        { role: "user", content: "x" },
        { role: "assistant", function_call: { name: "f", arguments: "{}" } },
        { role: "function", name: "f", content: "1" },
        { role: "function", name: "f", content: "2" },
      ]),
    "messages[3]",
    "invalid request",
  );
  rejects(
    () =>
      conversation([
        { role: "user", content: "x" },
        { role: "assistant", function_call: { name: "f", arguments: "[]" } },
      ]),
    "messages[1].function_call.arguments",
    "invalid request",
  );
});

Deno.test("tools become the conversation's tools, parameters as object schemas", () => {
  const result = conversation([{ role: "user", content: "x" }], {
    tools: [
      {
        type: "function",
        function: {
          name: "get_weather",
          description: "Weather of a city",
          parameters: { type: "object", properties: { city: { type: "string" } } },
          strict: true,
        },
      },
      { type: "function", function: { name: "now" } },
      { type: "function", function: { name: "typeless", parameters: { properties: {} } } },
    ],
  });
  assert.deepEqual(result.tools, [
    {
      name: "get_weather",
      description: "Weather of a city",
      parameters: { type: "object", properties: { city: { type: "string" } } },
    },
    { name: "now", parameters: { type: "object", properties: {} } },
    { name: "typeless", parameters: { properties: {}, type: "object" } },
  ]);
});

Deno.test("legacy functions become the conversation's tools", () => {
  const result = conversation([{ role: "user", content: "x" }], {
    functions: [{ name: "f", description: "d", parameters: { type: "object" } }],
  });
  assert.deepEqual(result.tools, [{ name: "f", description: "d", parameters: { type: "object" } }]);
});

Deno.test("400: tools the bridge cannot take", () => {
  const x = [{ role: "user", content: "x" }];
  rejects(
    () => conversation(x, { tools: [{ type: "web_search" }] }),
    "tools[0].type",
    "unsupported parameter",
    /only "function" tools/,
  );
  rejects(
    () => conversation(x, { tools: [{ type: "function" }] }),
    "tools[0].type",
    "unsupported parameter",
  );
  rejects(
    () =>
      conversation(x, {
        tools: [{ type: "function", function: { name: "a", parameters: { type: "array" } } }],
      }),
    "tools[0].function.parameters",
    "invalid request",
  );
  rejects(
    () => conversation(x, { functions: [{ name: "a", parameters: { type: "string" } }] }),
    "functions[0].parameters",
    "invalid request",
  );
  rejects(
    () =>
      conversation(x, {
        tools: [{ type: "function", function: { name: "a" } }],
        functions: [{ name: "b" }],
      }),
    "functions",
    "invalid request",
    /either tools or the legacy functions/,
  );
  rejects(
    () =>
      conversation(x, {
        tools: [
          { type: "function", function: { name: "a" } },
          { type: "function", function: { name: "a" } },
        ],
      }),
    "tools[1].function.name",
    "invalid request",
    /defined twice/,
  );
  rejects(
    () => conversation(x, { tools: [{ type: "function", function: { name: "a b" } }] }),
    "tools[0].function.name",
    "invalid request",
    /whitespace or control characters/,
  );
});

// ---------------------------------------------------------------- chatOptions

Deno.test("defaults: no stop, no schema, auto tool choice, parallel calls, no usage chunk", () => {
  assert.deepEqual(options({}), {
    stop: [],
    jsonSchema: undefined,
    maxOutputTokens: undefined,
    toolChoice: { type: "auto" },
    parallelToolCalls: true,
    includeUsage: false,
    legacyFunctions: false,
  });
});

Deno.test("stop is a list, empty strings dropped", () => {
  assert.deepEqual(options({ stop: "END" }).stop, ["END"]);
  assert.deepEqual(options({ stop: ["a", "", "b"] }).stop, ["a", "b"]);
  assert.deepEqual(options({ stop: null }).stop, []);
});

Deno.test("max_completion_tokens wins over max_tokens", () => {
  assert.equal(options({ max_tokens: 100 }).maxOutputTokens, 100);
  assert.equal(options({ max_tokens: 100, max_completion_tokens: 50 }).maxOutputTokens, 50);
});

Deno.test("stream_options.include_usage asks for the usage chunk", () => {
  assert.equal(
    options({ stream: true, stream_options: { include_usage: true } }).includeUsage,
    true,
  );
});

Deno.test("400: n > 1, logprobs, non-text modalities, audio, web search", () => {
  assert.equal(options({ n: 1 }).stop.length, 0);
  rejects(() => options({ n: 2 }), "n", "unsupported parameter", /n > 1/);
  rejects(() => options({ logprobs: true }), "logprobs", "unsupported parameter");
  rejects(() => options({ top_logprobs: 2 }), "logprobs", "unsupported parameter");
  assert.doesNotThrow(() => options({ logprobs: false, top_logprobs: 0 }));
  assert.doesNotThrow(() => options({ modalities: ["text"] }));
  rejects(() => options({ modalities: ["text", "audio"] }), "modalities", "unsupported parameter");
  rejects(() => options({ audio: { voice: "alloy" } }), "modalities", "unsupported parameter");
  rejects(() => options({ web_search_options: {} }), "web_search_options", "unsupported parameter");
});

Deno.test("response_format: text is none, json_object any object, json_schema its schema", () => {
  assert.equal(options({ response_format: { type: "text" } }).jsonSchema, undefined);
  assert.equal(options({ response_format: { type: "json_object" } }).jsonSchema, ANY_OBJECT_SCHEMA);
  const schema = { type: "object", properties: { a: { type: "number" } }, required: ["a"] };
  assert.deepEqual(
    options({ response_format: { type: "json_schema", json_schema: { name: "x", schema } } })
      .jsonSchema,
    schema,
  );
  assert.equal(
    options({ response_format: { type: "json_schema", json_schema: { name: "x" } } }).jsonSchema,
    ANY_OBJECT_SCHEMA,
  );
});

Deno.test("400: a response_format the bridge cannot honour", () => {
  rejects(
    () =>
      options({
        response_format: { type: "json_schema", json_schema: { schema: { type: "array" } } },
      }),
    "response_format.json_schema.schema",
    "unsupported parameter",
    /must describe a JSON object at its root/,
  );
  rejects(
    () => options({ response_format: { type: "grammar" } }),
    "response_format.type",
    "unsupported parameter",
    /"grammar" is not supported/,
  );
});

Deno.test("reasoning_effort maps to the CLI's effort, none and minimal turn thinking off", () => {
  assert.deepEqual(effortOf(undefined), {});
  assert.deepEqual(effortOf(null), {});
  assert.deepEqual(effortOf("none"), { thinking: false });
  assert.deepEqual(effortOf("minimal"), { effort: "low", thinking: false });
  for (const level of ["low", "medium", "high", "xhigh"] as const) {
    assert.deepEqual(effortOf(level), { effort: level });
  }
  const picked = options({ reasoning_effort: "minimal" });
  assert.equal(picked.effort, "low");
  assert.equal(picked.thinking, false);
});

Deno.test("tool_choice: the strings, and a named function", () => {
  for (const type of ["none", "auto", "required"] as const) {
    assert.deepEqual(options({ tool_choice: type }).toolChoice, { type });
  }
  assert.deepEqual(
    options({ tool_choice: { type: "function", function: { name: "get_weather" } } }).toolChoice,
    { type: "function", name: "get_weather" },
  );
});

Deno.test("400: a tool_choice of another type, or a function without a name", () => {
  rejects(
    () => options({ tool_choice: { type: "allowed_tools" } }),
    "tool_choice",
    "unsupported parameter",
    /"allowed_tools" is not supported/,
  );
  rejects(
    () => options({ tool_choice: { type: "function" } }),
    "tool_choice",
    "unsupported parameter",
  );
});

Deno.test("legacy function_call sets the tool choice", () => {
  assert.deepEqual(options({ function_call: "none" }).toolChoice, { type: "none" });
  assert.deepEqual(options({ function_call: "auto" }).toolChoice, { type: "auto" });
  assert.deepEqual(options({ function_call: { name: "f" } }).toolChoice, {
    type: "function",
    name: "f",
  });
});

Deno.test("parallel_tool_calls passes through; legacy functions force one call", () => {
  assert.equal(options({ parallel_tool_calls: false }).parallelToolCalls, false);
  assert.equal(options({ parallel_tool_calls: true }).parallelToolCalls, true);
  const legacy = options({ functions: [{ name: "f" }], parallel_tool_calls: true });
  assert.equal(legacy.parallelToolCalls, false);
  assert.equal(legacy.legacyFunctions, true);
  assert.equal(options({ functions: [] }).legacyFunctions, false);
});
