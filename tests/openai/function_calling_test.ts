/**
 * Function calling through `/v1/chat/completions`, with the stand-in CLI as
 * real subprocesses serving the client's tools over the in-process MCP
 * server: OpenAI's tool_calls shapes streaming and not, the suspended run
 * continued by the results, parallel calls, several rounds, the fallback
 * from history, the tool-result timeout, abort, tool_choice and the 400s.
 */
import assert from "node:assert/strict";
import { type RecordingServer, recordingServer, sseData, steer } from "../support/harness.ts";
import { isRunning, waitGone } from "../support/processes.ts";

const tools = [
  {
    type: "function",
    function: {
      name: "get_weather",
      description: "Weather for a city",
      parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
    },
  },
  {
    type: "function",
    function: {
      name: "get-stock.price",
      parameters: { type: "object", properties: { sym: { type: "string" } } },
    },
  },
];

type Chunk = {
  choices: {
    delta: {
      content?: string;
      tool_calls?: {
        index: number;
        id?: string;
        type?: string;
        function: { name?: string; arguments?: string };
      }[];
    };
    finish_reason: string | null;
  }[];
};

async function post(server: RecordingServer, body: Record<string, unknown>) {
  const response = await server.post("/v1/chat/completions", { model: "sonnet", tools, ...body });
  const text = await response.text();
  return { status: response.status, text, json: () => JSON.parse(text) };
}

const ask = (script: Record<string, unknown>, text = "weather?") => steer(script, text);
const call = (id: string, name: string, args: unknown) => ({
  id,
  type: "function",
  function: { name, arguments: JSON.stringify(args) },
});

Deno.test("a streamed tool call arrives exactly as OpenAI streams it, then finish_reason tool_calls", async () => {
  await using server = await recordingServer();
  const { status, text } = await post(server, {
    stream: true,
    stream_options: { include_usage: true },
    messages: [
      ask({
        say: ["Let me check."],
        toolCalls: [{ name: "get_weather", input: { city: "Paris" }, id: "call_1" }],
      }),
    ],
  });
  assert.equal(status, 200, text);
  const events = sseData(text);
  assert.equal(events.at(-1), "[DONE]");
  const chunks = events.filter((event): event is Chunk =>
    typeof event === "object" && (event as Chunk).choices?.length > 0
  );
  const content = chunks.map((chunk) => chunk.choices[0]!.delta.content ?? "").join("");
  assert.equal(content, "Let me check.");
  const calls = chunks.flatMap((chunk) => chunk.choices[0]!.delta.tool_calls ?? []);
  assert.deepEqual(calls[0], {
    index: 0,
    id: "call_1",
    type: "function",
    function: { name: "get_weather", arguments: "" },
  });
  assert.ok(calls.slice(1).every((fragment) => fragment.index === 0 && fragment.id === undefined));
  assert.deepEqual(
    JSON.parse(calls.map((fragment) => fragment.function.arguments ?? "").join("")),
    { city: "Paris" },
  );
  assert.equal(chunks.at(-1)!.choices[0]!.finish_reason, "tool_calls");
  const usage = events.find((event) =>
    typeof event === "object" && (event as { usage?: unknown }).usage
  );
  assert.ok(usage, "the usage chunk comes at the end");
});

Deno.test("non-streaming: message.tool_calls with JSON-string arguments, content null without text, names mapped back exactly", async () => {
  await using server = await recordingServer();
  const { status, json } = await post(server, {
    messages: [
      ask({
        say: [],
        toolCalls: [{ name: "get-stock.price", input: { sym: "ACME" }, id: "call_s" }],
      }),
    ],
  });
  assert.equal(status, 200);
  const choice = json().choices[0];
  assert.equal(choice.finish_reason, "tool_calls");
  assert.equal(choice.message.content, null);
  assert.deepEqual(choice.message.tool_calls, [
    {
      id: "call_s",
      type: "function",
      function: { name: "get-stock.price", arguments: '{"sym":"ACME"}' },
    },
  ]);
  const [run] = await server.runs();
  assert.equal(
    run!.argv[run!.argv.indexOf("--tools") + 1],
    "",
    "client tools replace the agent's own",
  );
});

Deno.test("the results continue the suspended run in the same process, and the model answers from them", async () => {
  await using server = await recordingServer();
  const messages = [
    ask({
      toolCalls: [{ name: "get_weather", input: { city: "Paris" }, id: "call_1" }],
      thenSay: ["It is sunny."],
    }),
  ];
  const first = await post(server, { stream: true, messages });
  assert.equal(first.status, 200);
  assert.equal(server.app.engine.live.status().suspended, 1);
  const second = await post(server, {
    stream: true,
    messages: [
      ...messages,
      {
        role: "assistant",
        content: null,
        tool_calls: [call("call_1", "get_weather", { city: "Paris" })],
      },
      { role: "tool", tool_call_id: "call_1", content: "sunny, 25C" },
    ],
  });
  assert.equal(second.status, 200, second.text);
  const text = sseData(second.text).filter((e): e is Chunk =>
    typeof e === "object" && (e as Chunk).choices?.length > 0
  )
    .map((chunk) => chunk.choices[0]!.delta.content ?? "").join("");
  assert.equal(text, "It is sunny.");
  assert.equal((await server.runs()).length, 1, "one process for the whole round");
  assert.equal(server.app.engine.paths.tool_results, 1);
  assert.equal(server.app.engine.live.status().suspended, 0);
});

Deno.test("parallel calls come as several tool_calls in one response and are answered in one follow-up; two rounds", async () => {
  await using server = await recordingServer();
  const steps = [
    {
      toolCalls: [{ name: "get_weather", input: { city: "Paris" }, id: "a" }, {
        name: "get_weather",
        input: { city: "Rome" },
        id: "b",
      }],
    },
    { toolCalls: [{ name: "get-stock.price", input: { sym: "X" }, id: "c" }] },
    { say: ["All done."] },
  ];
  const messages: Record<string, unknown>[] = [ask({ steps })];
  const first = (await post(server, { messages })).json().choices[0].message;
  assert.deepEqual(first.tool_calls.map((c: { id: string }) => c.id), ["a", "b"]);
  messages.push(first, { role: "tool", tool_call_id: "a", content: "rain" }, {
    role: "tool",
    tool_call_id: "b",
    content: "sun",
  });
  const second = (await post(server, { messages })).json().choices[0];
  assert.equal(second.finish_reason, "tool_calls");
  assert.deepEqual(
    second.message.tool_calls.map((c: { function: { name: string } }) => c.function.name),
    ["get-stock.price"],
  );
  messages.push(second.message, { role: "tool", tool_call_id: "c", content: "42" });
  const third = (await post(server, { messages })).json().choices[0];
  assert.equal(third.message.content, "All done.");
  assert.equal((await server.runs()).length, 1);
  assert.equal(server.app.engine.paths.tool_results, 2);
});

Deno.test("with no suspended run (another replica, a restart) the results resume from history, thinking off", async () => {
  await using server = await recordingServer();
  const { status, json } = await post(server, {
    messages: [
      { role: "user", content: "weather in Paris and Rome?" },
      {
        role: "assistant",
        content: "Checking.",
        tool_calls: [
          call("a", "get_weather", { city: "Paris" }),
          call("b", "get_weather", { city: "Rome" }),
        ],
      },
      { role: "tool", tool_call_id: "a", content: "rain" },
      { role: "tool", tool_call_id: "b", content: "sun" },
    ],
  });
  assert.equal(status, 200);
  assert.equal(json().choices[0].finish_reason, "stop");
  assert.equal(server.app.engine.paths.tool_fallback, 1);
  const [run] = await server.runs();
  assert.match(run!.resume ?? "", /hook_deferred_tool/);
  assert.equal(run!.turns.at(-1)?.settings.thinking.type, "disabled");
});

Deno.test("a suspended run not answered within TOOL_RESULT_TIMEOUT_MS is stopped; a late follow-up still succeeds from history", async () => {
  await using server = await recordingServer({ TOOL_RESULT_TIMEOUT_MS: "1000" });
  const messages = [
    ask({
      toolCalls: [{ name: "get_weather", input: { city: "Oslo" }, id: "late" }],
      thenSay: ["fine"],
    }),
  ];
  assert.equal((await post(server, { messages })).status, 200);
  const [run] = await server.runs();
  await waitGone([run!.pid], 5000);
  assert.equal(server.app.engine.live.status().suspended, 0);
  const late = await post(server, {
    messages: [
      ...messages,
      {
        role: "assistant",
        content: null,
        tool_calls: [call("late", "get_weather", { city: "Oslo" })],
      },
      { role: "tool", tool_call_id: "late", content: "snow" },
    ],
  });
  assert.equal(late.status, 200, late.text);
  assert.equal(server.app.engine.paths.tool_fallback, 1);
});

Deno.test("a client that leaves while the continued run streams stops its process", async () => {
  await using server = await recordingServer();
  const ticks = Array.from({ length: 500 }, () => "tick ");
  const messages = [
    ask({
      steps: [{ toolCalls: [{ name: "get_weather", input: { city: "Paris" }, id: "x" }] }, {
        say: ticks,
      }],
      delayMs: 20,
    }),
  ];
  assert.equal((await post(server, { stream: true, messages })).status, 200);
  const [run] = await server.runs();
  const controller = new AbortController();
  const response = await fetch(server.url + "/v1/chat/completions", {
    method: "POST",
    signal: controller.signal,
    headers: { "content-type": "application/json", authorization: "Bearer test-token" },
    body: JSON.stringify({
      model: "sonnet",
      tools,
      stream: true,
      messages: [
        ...messages,
        {
          role: "assistant",
          content: null,
          tool_calls: [call("x", "get_weather", { city: "Paris" })],
        },
        { role: "tool", tool_call_id: "x", content: "sunny" },
      ],
    }),
  });
  assert.equal(response.status, 200);
  const reader = response.body!.getReader();
  await reader.read();
  assert.equal(server.app.engine.paths.tool_results, 1, "the continued run is the suspended one");
  assert.ok(isRunning(run!.pid));
  controller.abort();
  await reader.closed.catch(() => {});
  await waitGone([run!.pid], 5000);
});

Deno.test("tool_choice and parallel_tool_calls reach the API as tool_choice; forcing a call turns thinking off", async () => {
  await using server = await recordingServer();
  const settingsFor = async (extra: Record<string, unknown>) =>
    JSON.parse(
      (await post(server, {
        ...extra,
        messages: [ask({ echo: "settings" }, JSON.stringify(extra))],
      })).json().choices[0].message.content,
    );
  assert.deepEqual((await settingsFor({ tool_choice: "none" })).extraBody, {
    tool_choice: { type: "none" },
  });
  assert.equal((await settingsFor({ tool_choice: "auto" })).extraBody, null);
  const required = await settingsFor({ tool_choice: "required" });
  assert.deepEqual(required.extraBody, { tool_choice: { type: "any" } });
  assert.equal(required.thinking.type, "disabled");
  const named = await settingsFor({
    tool_choice: { type: "function", function: { name: "get-stock.price" } },
  });
  assert.deepEqual(named.extraBody, {
    tool_choice: { type: "tool", name: "mcp__bridge__get-stock_price" },
  });
  assert.deepEqual((await settingsFor({ parallel_tool_calls: false })).extraBody, {
    tool_choice: { type: "auto", disable_parallel_tool_use: true },
  });
});

Deno.test("legacy functions and function_call map to tools, and the answer uses function_call", async () => {
  await using server = await recordingServer();
  const response = await server.post("/v1/chat/completions", {
    functions: [{
      name: "get_weather",
      parameters: { type: "object", properties: { city: { type: "string" } } },
    }],
    function_call: "auto",
    messages: [ask({ toolCalls: [{ name: "get_weather", input: { city: "Lima" } }] })],
  });
  const choice = (await response.json()).choices[0];
  assert.equal(choice.finish_reason, "function_call");
  assert.deepEqual(choice.message.function_call, {
    name: "get_weather",
    arguments: '{"city":"Lima"}',
  });
  assert.equal(choice.message.tool_calls, undefined);
});

Deno.test("bad tool requests are clear 400s naming the field, and start no CLI", async () => {
  await using server = await recordingServer();
  const cases: [Record<string, unknown>, RegExp][] = [
    [
      { tools: [{ type: "function", function: { name: "f", parameters: { type: "string" } } }] },
      /parameters/,
    ],
    [{ tools: [{ type: "code_interpreter" }] }, /only "function" tools/],
    [{ tool_choice: { type: "function", function: { name: "nope" } } }, /"nope"/],
    [{
      messages: [
        { role: "user", content: "hi" },
        { role: "assistant", content: null, tool_calls: [call("k", "get_weather", {})] },
        { role: "tool", tool_call_id: "unknown", content: "x" },
      ],
    }, /no tool result|not a tool call/],
    [{
      messages: [{ role: "user", content: "hi" }, {
        role: "tool",
        tool_call_id: "z",
        content: "x",
      }],
    }, /not a tool call/],
    [{
      messages: [
        { role: "user", content: "hi" },
        {
          role: "assistant",
          content: null,
          tool_calls: [{
            id: "q",
            type: "function",
            function: { name: "get_weather", arguments: "not json" },
          }],
        },
        { role: "tool", tool_call_id: "q", content: "x" },
      ],
    }, /arguments must be a JSON object/],
  ];
  for (const [extra, message] of cases) {
    const { status, json } = await post(server, {
      messages: [{ role: "user", content: "hi" }],
      ...extra,
    });
    assert.equal(status, 400, JSON.stringify(extra));
    assert.match(json().message, message);
  }
  assert.equal((await server.runs()).length, 0);
});

Deno.test("results sent without streaming still continue a call that was streamed (and the reverse)", async () => {
  await using server = await recordingServer();
  for (const [first, second] of [[true, false], [false, true]]) {
    const id = `mixed_${first}`;
    const messages = [
      ask(
        { toolCalls: [{ name: "get_weather", input: { city: "Oslo" }, id }], thenSay: ["done"] },
        `q ${first}`,
      ),
    ];
    assert.equal((await post(server, { stream: first, messages })).status, 200);
    const follow = await post(server, {
      stream: second,
      messages: [
        ...messages,
        {
          role: "assistant",
          content: null,
          tool_calls: [call(id, "get_weather", { city: "Oslo" })],
        },
        { role: "tool", tool_call_id: id, content: "cold" },
      ],
    });
    assert.equal(follow.status, 200, follow.text);
  }
  assert.equal(server.app.engine.paths.tool_results, 2);
  assert.equal(server.app.engine.paths.tool_fallback, 0);
});
