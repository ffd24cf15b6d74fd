/**
 * The Responses request's translation: items to turns and instructions,
 * previous responses and item references through the store, tools and the
 * left-out tool types, tool_choice, and every field's fate.
 */
import assert from "node:assert/strict";
import { HttpError } from "../../src/http/http_error.ts";
import { parseBody } from "../../src/http/validate.ts";
import {
  type InputItem,
  planResponse,
  type ResponsesPlan,
  responsesRequestSchema,
} from "../../src/openai/responses_request.ts";
import { ResponsesStore } from "../../src/openai/responses_store.ts";

const PNG = "data:image/png;base64,iVBORw0KGgo=";

function plan(
  body: Record<string, unknown>,
  store = new ResponsesStore<InputItem>({ maxEntries: 10, ttlMs: 60_000 }),
  leftOut: string[] = [],
): ResponsesPlan {
  return planResponse(parseBody(responsesRequestSchema, body), {
    store,
    onLeftOutTool: (type) => leftOut.push(type),
  });
}

/** Asserts `body` is refused with a 400 naming `param` and matching `message`. */
function refused(
  body: Record<string, unknown>,
  param: string,
  message: RegExp,
  store?: ResponsesStore<InputItem>,
) {
  assert.throws(() => plan(body, store), (error: unknown) => {
    assert.ok(error instanceof HttpError, String(error));
    assert.equal(error.status, 400);
    assert.equal(error.fields.param, param, error.message);
    assert.match(error.message, message);
    return true;
  });
}

Deno.test("a string input is one user message; instructions become the first instruction", () => {
  const { conversation } = plan({ input: "hello", instructions: "Be brief." });
  assert.deepEqual(conversation.instructions, ["Be brief."]);
  assert.deepEqual(conversation.turns, [{
    role: "user",
    content: [{ type: "text", text: "hello" }],
  }]);
  assert.deepEqual(conversation.tools, []);
});

Deno.test("system and developer items follow instructions, one instruction per text part (Codex sends no instructions)", () => {
  const { conversation } = plan({
    instructions: "first",
    input: [
      { type: "message", role: "developer", id: "msg_1", content: "base prompt" },
      {
        type: "message",
        role: "developer",
        content: [{ type: "input_text", text: "skills" }, { type: "input_text", text: "perms" }],
      },
      { role: "system", content: [{ type: "input_text", text: "sys" }] },
      { type: "message", role: "user", id: "msg_2", content: [{ type: "input_text", text: "hi" }] },
    ],
  });
  assert.deepEqual(conversation.instructions, ["first", "base prompt", "skills", "perms", "sys"]);
  assert.deepEqual(conversation.turns, [{ role: "user", content: [{ type: "text", text: "hi" }] }]);
});

Deno.test("user parts: input_text and data-URL input_image; neighbours merge into one turn", () => {
  const { conversation } = plan({
    input: [
      { role: "user", content: [{ type: "input_text", text: "look" }] },
      { role: "user", content: [{ type: "input_image", image_url: PNG, detail: "auto" }] },
    ],
  });
  assert.deepEqual(conversation.turns, [{
    role: "user",
    content: [
      { type: "text", text: "look" },
      { type: "image", mediaType: "image/png", data: "iVBORw0KGgo=" },
    ],
  }]);
});

Deno.test("400: remote images, file ids, files, audio and parts of the wrong kind, naming the part", () => {
  const user = (part: unknown) => ({ input: [{ role: "user", content: [part] }] });
  refused(
    user({ type: "input_image", image_url: "https://x/y.png" }),
    "input[0].content[0].image_url",
    /inline/,
  );
  refused(
    user({ type: "input_image", file_id: "file_1" }),
    "input[0].content[0].image_url",
    /file_id/,
  );
  refused(user({ type: "input_file", file_data: "x" }), "input[0].content[0].type", /input_file/);
  refused(user({ type: "input_audio" }), "input[0].content[0].type", /input_audio/);
  refused(
    { input: [{ role: "developer", content: [{ type: "input_image", image_url: PNG }] }] },
    "input[0].content[0].type",
    /developer messages take input_text/,
  );
});

Deno.test("assistant items: output_text and refusal parts, a string too; replayed function_call items with id and status", () => {
  const { conversation } = plan({
    input: [
      { role: "user", content: "q" },
      {
        type: "message",
        role: "assistant",
        id: "msg_a",
        status: "completed",
        content: [
          { type: "output_text", text: "Let me ", annotations: [] },
          { type: "refusal", refusal: "see." },
        ],
      },
      {
        type: "function_call",
        id: "fc_1",
        status: "completed",
        call_id: "call_1",
        name: "exec_command",
        arguments: '{"cmd":"cat secret.txt"}',
      },
      {
        type: "function_call_output",
        id: "fco_1",
        status: "completed",
        call_id: "call_1",
        output: "KIWI",
      },
      { role: "assistant", content: "It says KIWI." },
      { type: "reasoning", id: "rs_1", summary: [], encrypted_content: "opaque" },
      { role: "user", content: "thanks" },
    ],
  });
  assert.deepEqual(conversation.turns, [
    { role: "user", content: [{ type: "text", text: "q" }] },
    {
      role: "assistant",
      content: [
        { type: "text", text: "Let me see." },
        { type: "tool_use", id: "call_1", name: "exec_command", input: { cmd: "cat secret.txt" } },
      ],
    },
    { role: "user", content: [{ type: "tool_result", toolUseId: "call_1", content: "KIWI" }] },
    { role: "assistant", content: [{ type: "text", text: "It says KIWI." }] },
    { role: "user", content: [{ type: "text", text: "thanks" }] },
  ]);
});

Deno.test("function_call_output takes input_text parts; images in it and a missing call_id are 400s", () => {
  const call = { type: "function_call", call_id: "c", name: "f", arguments: "{}" };
  const { conversation } = plan({
    input: [
      { role: "user", content: "q" },
      call,
      {
        type: "function_call_output",
        call_id: "c",
        output: [{ type: "input_text", text: "a" }, { type: "input_text", text: "b" }],
      },
    ],
  });
  assert.deepEqual(conversation.turns.at(-1), {
    role: "user",
    content: [{ type: "tool_result", toolUseId: "c", content: "ab" }],
  });
  refused(
    {
      input: [call, {
        type: "function_call_output",
        call_id: "c",
        output: [{ type: "input_image", image_url: PNG }],
      }],
    },
    "input[1].output[0].type",
    /images and files/,
  );
  refused(
    { input: [call, { type: "function_call_output", output: "x" }] },
    "input[1].call_id",
    /call_id is required/,
  );
  refused(
    { input: [{ ...call, arguments: "[1]" }] },
    "input[0].arguments",
    /JSON object/,
  );
});

Deno.test("400: an item type the bridge does not take, and a message without a role", () => {
  refused(
    { input: [{ type: "web_search_call", id: "ws_1", status: "completed" }] },
    "input[0].type",
    /web_search_call/,
  );
  refused({ input: [{ type: "message", content: "x" }] }, "input[0].role", /role/);
});

Deno.test("previous_response_id puts the stored items first; an unknown id is previous_response_not_found", () => {
  const store = new ResponsesStore<InputItem>({ maxEntries: 10, ttlMs: 60_000 });
  store.put("resp_1", [
    { type: "message", role: "developer", content: "dev" },
    { type: "message", role: "user", content: "q" },
    { type: "function_call", id: "fc_1", call_id: "call_1", name: "f", arguments: "{}" },
  ]);
  const { conversation, items } = plan({
    previous_response_id: "resp_1",
    instructions: "inst",
    input: [{ type: "function_call_output", call_id: "call_1", output: "r" }],
  }, store);
  assert.deepEqual(conversation.instructions, ["inst", "dev"]);
  assert.deepEqual(conversation.turns.map((turn) => turn.content[0]!.type), [
    "text",
    "tool_use",
    "tool_result",
  ]);
  assert.equal(items.length, 4, "the items to store hold the previous ones and the new");
  assert.throws(() => plan({ previous_response_id: "resp_nope", input: "x" }, store), (error) => {
    assert.ok(error instanceof HttpError);
    assert.equal(error.status, 400);
    assert.equal(error.code, "previous_response_not_found");
    assert.equal(error.fields.param, "previous_response_id");
    assert.match(error.message, /store: true/);
    return true;
  });
  const off = new ResponsesStore<InputItem>({ maxEntries: 0, ttlMs: 60_000 });
  assert.throws(
    () => plan({ previous_response_id: "resp_1", input: "x" }, off),
    /RESPONSES_STORE_MAX=0/,
  );
});

Deno.test("item_reference resolves a stored item, with or without its type; an unknown one is a 400", () => {
  const store = new ResponsesStore<InputItem>({ maxEntries: 10, ttlMs: 60_000 });
  store.put("resp_1", [{ type: "message", role: "user", id: "msg_u", content: "stored question" }]);
  for (const reference of [{ type: "item_reference", id: "msg_u" }, { id: "msg_u" }]) {
    const { conversation } = plan({ input: [reference] }, store);
    assert.deepEqual(conversation.turns, [{
      role: "user",
      content: [{ type: "text", text: "stored question" }],
    }]);
  }
  refused({ input: [{ type: "item_reference", id: "msg_x" }] }, "input[0]", /not stored/, store);
});

Deno.test("400: no input and no previous response", () => {
  refused({ model: "sonnet" }, "input", /input is required/);
});

Deno.test("function tools are offered; every other type is left out and reported", () => {
  const leftOut: string[] = [];
  const result = plan(
    {
      input: "x",
      tools: [
        {
          type: "function",
          name: "exec_command",
          description: "Run a command",
          parameters: { type: "object", properties: { cmd: { type: "string" } } },
          strict: false,
        },
        { type: "function", name: "no_params", parameters: null, strict: true },
        {
          type: "namespace",
          name: "multi_agent_v1",
          description: "agents",
          tools: [{ type: "function", name: "spawn_agent" }],
        },
        { type: "web_search", external_web_access: false },
        { type: "web_search", search_context_size: "low" },
        { type: "custom", name: "apply_patch" },
        { type: "file_search", vector_store_ids: ["vs_1"] },
        { type: "local_shell" },
        { type: "computer_use_preview", display_width: 1, display_height: 1, environment: "linux" },
        { type: "image_generation" },
        { type: "code_interpreter", container: { type: "auto" } },
        { type: "mcp", server_label: "x", server_url: "https://x" },
      ],
    },
    undefined,
    leftOut,
  );
  assert.deepEqual(result.conversation.tools, [
    {
      name: "exec_command",
      description: "Run a command",
      parameters: { type: "object", properties: { cmd: { type: "string" } } },
    },
    { name: "no_params", parameters: { type: "object", properties: {} } },
  ]);
  assert.deepEqual(result.offeredTools.map((tool) => tool.name), ["exec_command", "no_params"]);
  assert.deepEqual(leftOut, [
    "namespace",
    "web_search",
    "custom",
    "file_search",
    "local_shell",
    "computer_use_preview",
    "image_generation",
    "code_interpreter",
    "mcp",
  ]);
});

Deno.test("400: a function without a name, a duplicate name, a non-object schema", () => {
  refused({ input: "x", tools: [{ type: "function" }] }, "tools[0].name", /name/);
  const fn = { type: "function", name: "f", parameters: null, strict: null };
  refused({ input: "x", tools: [fn, fn] }, "tools[1].name", /defined twice/);
  refused(
    { input: "x", tools: [{ ...fn, parameters: { type: "string" } }] },
    "tools[0].parameters",
    /object/,
  );
});

Deno.test("tool_choice: the strings, a named function, allowed_tools; hosted-tool choices are 400s", () => {
  const tools = [
    { type: "function", name: "a", parameters: null, strict: false },
    { type: "function", name: "b", parameters: null, strict: false },
  ];
  const choice = (tool_choice: unknown) => plan({ input: "x", tools, tool_choice });
  assert.deepEqual(choice(undefined).options.toolChoice, { type: "auto" });
  for (const type of ["none", "auto", "required"] as const) {
    assert.deepEqual(choice(type).options.toolChoice, { type });
  }
  assert.deepEqual(choice({ type: "function", name: "b" }).options.toolChoice, {
    type: "function",
    name: "b",
  });
  const allowed = choice({
    type: "allowed_tools",
    mode: "required",
    tools: [{ type: "function", name: "b" }, { type: "web_search" }],
  });
  assert.deepEqual(allowed.options.toolChoice, { type: "required" });
  assert.deepEqual(allowed.conversation.tools.map((tool) => tool.name), ["b"]);
  refused({ input: "x", tools, tool_choice: { type: "function" } }, "tool_choice.name", /name/);
  for (const hosted of ["web_search_preview", "file_search", "code_interpreter", "mcp", "custom"]) {
    refused({ input: "x", tools, tool_choice: { type: hosted } }, "tool_choice", /hosted tools/);
  }
});

Deno.test("parallel_tool_calls, max_output_tokens and reasoning.effort map like chat's", () => {
  const options = (body: Record<string, unknown>) => plan({ input: "x", ...body }).options;
  assert.deepEqual(options({}), {
    stop: [],
    jsonSchema: undefined,
    maxOutputTokens: undefined,
    toolChoice: { type: "auto" },
    parallelToolCalls: true,
  });
  assert.equal(options({ parallel_tool_calls: false }).parallelToolCalls, false);
  assert.equal(options({ max_output_tokens: 500 }).maxOutputTokens, 500);
  assert.deepEqual(
    [
      options({ reasoning: { effort: "none" } }),
      options({ reasoning: { effort: "minimal" } }),
      options({ reasoning: { effort: "high", summary: "auto" } }),
      options({ reasoning: { effort: "max" } }),
      options({ reasoning: { summary: "auto" } }),
    ].map(({ effort, thinking }) => ({ effort, thinking })),
    [
      { effort: undefined, thinking: false },
      { effort: "low", thinking: false },
      { effort: "high", thinking: undefined },
      { effort: "max", thinking: undefined },
      { effort: undefined, thinking: undefined },
    ],
  );
});

Deno.test("text.format: text is none, json_object any object, json_schema its schema; others are 400s", () => {
  const schema = { type: "object", properties: { a: { type: "number" } } };
  const format = (value: unknown) =>
    plan({ input: "x", text: { format: value } }).options.jsonSchema;
  assert.equal(format({ type: "text" }), undefined);
  assert.deepEqual(format({ type: "json_object" }), { type: "object", additionalProperties: true });
  assert.deepEqual(format({ type: "json_schema", name: "s", schema, strict: true }), schema);
  refused(
    { input: "x", text: { format: { type: "json_schema", name: "s", schema: { type: "array" } } } },
    "text.format.schema",
    /object/,
  );
  refused({ input: "x", text: { format: { type: "grammar" } } }, "text.format.type", /grammar/);
});

Deno.test("fields accepted and ignored: Codex's and the Agents SDK's first requests plan cleanly", () => {
  const result = plan({
    model: "sonnet",
    stream: true,
    store: false,
    include: ["reasoning.encrypted_content"],
    prompt_cache_key: "thread-1",
    client_metadata: { "x-codex-turn-metadata": "{}" },
    reasoning: { summary: "auto" },
    metadata: { a: "b" },
    user: "u",
    safety_identifier: "s",
    service_tier: "auto",
    temperature: 0.2,
    top_p: 0.9,
    truncation: "auto",
    max_tool_calls: 3,
    stream_options: { include_obfuscation: false },
    prompt_cache_retention: "24h",
    text: { verbosity: "low" },
    something_new: { anything: true },
    input: [{ role: "user", content: "hi" }],
  });
  assert.equal(result.conversation.turns.length, 1);
});

Deno.test("400: background, conversation, prompt templates, moderation and logprobs", () => {
  refused({ input: "x", background: true }, "background", /Background/);
  refused({ input: "x", conversation: "conv_1" }, "conversation", /previous_response_id/);
  refused({ input: "x", prompt: { id: "pmpt_1" } }, "prompt", /prompt templates/);
  refused({ input: "x", moderation: { model: "m" } }, "moderation", /Moderation/);
  refused({ input: "x", top_logprobs: 2 }, "top_logprobs", /logprobs/);
  refused({ input: "x", include: ["message.output_text.logprobs"] }, "include", /logprobs/);
});
