/**
 * The stand-in CLI speaks the real CLI's stream-json protocol: the readiness
 * probe, `initialize` (once), per-turn settings, several turns on one
 * process, the in-process MCP handshake and client tool calls (parallel only
 * when read-only), PreToolUse hooks, `--resume` (validated) and the deferred
 * tool resume, interrupts, max turns, structured output, recording, and the
 * directives the other tests steer it with.
 */
import assert from "node:assert/strict";
import { FAKE_CLAUDE, steer as steerMessage } from "./harness.ts";
import {
  assistantEntry,
  type CliLine,
  deferredEntry,
  type McpTool,
  sessionFile,
  StreamJsonCli,
  type StreamJsonCliOptions,
  userEntry,
  withSessionFile,
} from "./stream_json_cli.ts";

const steer = (script: Record<string, unknown>, text = "hi") => steerMessage(script, text).content;
const init = (fields: Record<string, unknown> = {}) => ({ subtype: "initialize", ...fields });
const ARGS = ["--model", "sonnet", "--tools", "", "--permission-mode", "default"];
const CLIENT_ARGS = [...ARGS, "--allowedTools", "mcp__bridge"];

function standIn(options: Partial<StreamJsonCliOptions> = {}): StreamJsonCli {
  return new StreamJsonCli({ bin: FAKE_CLAUDE, args: ARGS, ...options });
}

const weather = (readOnlyHint: boolean): McpTool => ({
  name: "get_weather",
  description: "Weather",
  inputSchema: { type: "object", properties: { city: { type: "string" } } },
  annotations: { readOnlyHint },
});

const isResult = (line: CliLine) => line.type === "result";
const toolCalls = (cli: StreamJsonCli) =>
  cli.lines.filter((line) => line.request?.message?.method === "tools/call");

Deno.test("stand-in: the version probe is answered before initialize, and an idle close exits 0", async () => {
  await using cli = standIn();
  cli.control("v", { subtype: "get_binary_version" });
  const answer = await cli.next((line) => line.type === "control_response");
  assert.equal(answer.response.request_id, "v");
  assert.equal(answer.response.response.version, "2.1.197");
  assert.equal(await cli.close(), 0);
  assert.ok(!cli.lines.some((line) => line.type === "system"), "no turn, no init line");
});

Deno.test("stand-in: only the first initialize counts; the system prompt is prompt + blank line + append", async () => {
  await using cli = standIn();
  cli.control("a", init({ systemPrompt: "FIRST", appendSystemPrompt: "APPENDED" }));
  cli.control("b", init({ systemPrompt: "LATE" }));
  cli.control("c", { subtype: "no_such_thing" });
  cli.user(steer({ echo: "system" }));
  const result = await cli.result();
  assert.equal(result.result, "FIRST\n\nAPPENDED");
  const responses = cli.lines.filter((line) => line.type === "control_response");
  assert.deepEqual(responses.map((line) => line.response.subtype), ["success", "success", "error"]);
  assert.equal(responses[2]!.response.error, "Unsupported control request subtype: no_such_thing");
});

Deno.test("stand-in: per-turn settings apply to the next turn and null returns to the default", async () => {
  await using cli = standIn({
    args: ["--model", "haiku", "--tools", "", "--permission-mode", "default"],
  });
  cli.control("i", init());
  cli.control("f", {
    subtype: "apply_flag_settings",
    settings: {
      env: {
        CLAUDE_CODE_MAX_OUTPUT_TOKENS: "500",
        CLAUDE_CODE_EXTRA_BODY: JSON.stringify({ tool_choice: { type: "any" } }),
      },
      effortLevel: "low",
    },
  });
  cli.control("t", { subtype: "set_max_thinking_tokens", max_thinking_tokens: 0 });
  cli.user(steer({ echo: "settings" }));
  const first = JSON.parse((await cli.result()).result);
  assert.equal(first.maxTokens, 500);
  assert.equal(first.effort, "low");
  assert.deepEqual(first.thinking, { type: "disabled" });
  assert.deepEqual(first.extraBody, { tool_choice: { type: "any" } });
  cli.control("f2", {
    subtype: "apply_flag_settings",
    settings: {
      env: { CLAUDE_CODE_MAX_OUTPUT_TOKENS: null, CLAUDE_CODE_EXTRA_BODY: null },
      effortLevel: null,
    },
  });
  cli.control("t2", { subtype: "set_max_thinking_tokens", max_thinking_tokens: null });
  cli.user(steer({ echo: "settings" }));
  const second = JSON.parse((await cli.result()).result);
  assert.equal(second.maxTokens, 64000);
  assert.equal(second.effort, "high");
  assert.deepEqual(
    second.thinking,
    { type: "enabled", budget_tokens: 63999 },
    "haiku thinks on a budget",
  );
  assert.equal(second.extraBody, null);
});

Deno.test("stand-in: one process carries several turns, each steered by its own user text", async () => {
  await using cli = standIn();
  cli.control("i", init({ systemPrompt: "S" }));
  cli.user(steer({ say: ["one"] }));
  assert.equal((await cli.result()).result, "one");
  cli.user("no directive: ok");
  assert.equal((await cli.result()).result, "ok");
  cli.user(steer({ echo: "history" }));
  const history = JSON.parse((await cli.result()).result);
  assert.deepEqual(history.map((m: CliLine) => m.role), [
    "user",
    "assistant",
    "user",
    "assistant",
    "user",
  ]);
  assert.equal(history[1].content[0].text, "one");
  assert.equal(
    cli.lines.filter((line) => line.subtype === "init").length,
    3,
    "an init line per turn",
  );
  assert.equal(await cli.close(), 0);
});

Deno.test("stand-in: the MCP handshake precedes the init line, which lists the tools and a connected server", async () => {
  await using cli = standIn({ args: CLIENT_ARGS, tools: [weather(true)] });
  cli.control("i", init({ sdkMcpServers: ["bridge"] }));
  cli.user("hi");
  const initLine = await cli.next((line) => line.subtype === "init");
  assert.deepEqual(initLine.tools, ["mcp__bridge__get_weather"]);
  assert.deepEqual(initLine.mcp_servers, [{ name: "bridge", status: "connected" }]);
  const methods = cli.answered.map((line) => line.request.message.method);
  assert.deepEqual(methods, ["initialize", "notifications/initialized", "tools/list"]);
});

Deno.test("stand-in: read-only client tools are called together, each with its tool_use id", async () => {
  const held: PromiseWithResolvers<void>[] = [];
  await using cli = standIn({
    args: CLIENT_ARGS,
    tools: [weather(true)],
    onToolCall: async (_name, input) => {
      const hold = Promise.withResolvers<void>();
      held.push(hold);
      await hold.promise;
      return `sunny in ${input.city}`;
    },
  });
  cli.control("i", init({ sdkMcpServers: ["bridge"] }));
  cli.user(steer({
    say: ["Checking."],
    toolCalls: [{ name: "get_weather", input: { city: "Paris" } }, {
      name: "get_weather",
      input: { city: "Rome" },
    }],
    thenSay: ["Sunny both."],
  }));
  await cli.next(() => toolCalls(cli).length === 2);
  const uses = cli.lines.filter((line) => line.message?.content?.[0]?.type === "tool_use");
  assert.deepEqual(
    toolCalls(cli).map((line) => line.request.message.params._meta["claudecode/toolUseId"]),
    uses.map((line) => line.message.content[0].id),
  );
  assert.equal(uses[0]!.message.content[0].name, "mcp__bridge__get_weather");
  held.forEach((hold) => hold.resolve());
  const result = await cli.result();
  assert.equal(result.result, "Sunny both.");
  assert.equal(result.num_turns, 3);
  const results = cli.lines.filter((line) => line.type === "user");
  assert.deepEqual(results.map((line) => line.message.content[0].content[0].text), [
    "sunny in Paris",
    "sunny in Rome",
  ]);
});

Deno.test("stand-in: other client tools are called one at a time, and an error result is is_error", async () => {
  const held: PromiseWithResolvers<void>[] = [];
  await using cli = standIn({
    args: CLIENT_ARGS,
    tools: [weather(false)],
    onToolCall: async (_name, input) => {
      const hold = Promise.withResolvers<void>();
      held.push(hold);
      await hold.promise;
      return { content: [{ type: "text", text: `no data for ${input.city}` }], isError: true };
    },
  });
  cli.control("i", init({ sdkMcpServers: ["bridge"] }));
  cli.user(steer({
    toolCalls: [{ name: "get_weather", input: { city: "A" } }, {
      name: "get_weather",
      input: { city: "B" },
    }],
  }));
  await cli.next(() => toolCalls(cli).length === 1);
  await cli.next((line) => line.event?.type === "message_stop");
  assert.equal(toolCalls(cli).length, 1, "the second call waits for the first");
  held[0]!.resolve();
  await cli.next(() => toolCalls(cli).length === 2);
  held[1]!.resolve();
  await cli.result();
  const results = cli.lines.filter((line) => line.type === "user").map((l) => l.message.content[0]);
  assert.deepEqual(results.map((block) => [block.is_error, block.content]), [
    [true, "no data for A"],
    [true, "no data for B"],
  ]);
});

Deno.test("stand-in: a PreToolUse deny makes the built-in call an error result and the file is not read", async () => {
  await using cli = standIn({
    args: ["--model", "sonnet", "--tools", "Read", "--permission-mode", "acceptEdits"],
    onHook: (tool, input) =>
      input.tool_input.file_path.startsWith("/etc/") ? `no ${tool} outside` : undefined,
  });
  await Deno.writeTextFile(`${cli.cwd}/notes.txt`, "inside\n");
  cli.control("i", init({ hooks: { PreToolUse: [{ matcher: "*", hookCallbackIds: ["guard"] }] } }));
  cli.user(steer({
    toolCalls: [
      { name: "Read", input: { file_path: "/etc/hostname" }, builtin: true },
      { name: "Read", input: { file_path: "notes.txt" }, builtin: true },
    ],
    thenSay: ["done"],
  }));
  await cli.result();
  const hooks = cli.answered.filter((line) => line.request.subtype === "hook_callback");
  assert.deepEqual(hooks.map((line) => line.request.input.tool_input.file_path), [
    "/etc/hostname",
    `${cli.cwd}/notes.txt`,
  ], "paths reach the hook absolute");
  const results = cli.lines.filter((line) => line.type === "user").map((l) => l.message.content[0]);
  assert.deepEqual(results[0], {
    tool_use_id: results[0].tool_use_id,
    type: "tool_result",
    content: "no Read outside",
    is_error: true,
  });
  assert.equal(results[1].content, "1\tinside\n2\t");
});

Deno.test("stand-in: --resume loads the file's turns as the history", async () => {
  const text = sessionFile([
    userEntry("Earlier question"),
    assistantEntry("m1", [{ type: "text", text: "Earlier answer" }]),
  ]);
  await withSessionFile(text, async (path) => {
    await using cli = standIn({ args: [...ARGS, "--resume", path] });
    cli.control("i", init());
    cli.user(steer({ echo: "history" }));
    const history = JSON.parse((await cli.result()).result);
    assert.deepEqual(history.map((m: CliLine) => m.content[0].text.slice(0, 14)), [
      "Earlier questi",
      "Earlier answer",
      'hi [[fake:{"ec',
    ]);
    assert.equal(await Deno.readTextFile(path), text, "the file is left as it was");
  });
});

Deno.test("stand-in: a session file the real CLI cannot use fails the start, loudly", async () => {
  const cases: [string, string, RegExp][] = [
    [
      "no timestamp",
      '{"parentUuid":null,"type":"user","message":{"role":"user","content":"q"},"uuid":"a"}\n',
      /No conversation found/,
    ],
    ["not JSON", "{oops\n", /No conversation found/],
    ["ends with a user line", sessionFile([userEntry("q")]), /ends with a user line/],
    [
      "shared message ids",
      sessionFile([
        userEntry("q"),
        assistantEntry("same", []),
        userEntry("q2"),
        assistantEntry("same", []),
      ]),
      /used twice/,
    ],
    [
      "broken chain",
      sessionFile([userEntry("q"), assistantEntry("m", [])]).replace(
        /"parentUuid":"[^"]+"/,
        '"parentUuid":"zz"',
      ),
      /parentUuid/,
    ],
  ];
  for (const [what, text, message] of cases) {
    await withSessionFile(text, async (path) => {
      await using cli = standIn({ args: [...ARGS, "--resume", path] });
      const result = await cli.next(isResult, 5000).catch((error) => {
        throw new Error(`${what}: ${error.message}`);
      });
      assert.equal(result.subtype, "error_during_execution", what);
      assert.match(result.errors[0], message, what);
      assert.equal(await cli.close(), 1, what);
      assert.match(await cli.stderr, message, what);
    });
  }
});

Deno.test("stand-in: a deferred tool is re-issued after initialize with no user line, then the turn goes on", async () => {
  const call = {
    type: "tool_use",
    id: "toolu_A",
    name: "mcp__bridge__get_weather",
    input: { city: "Oslo" },
  };
  const text = sessionFile([
    userEntry(
      steer({ toolCalls: [{ name: "get_weather", input: { city: "Oslo" } }], thenSay: ["Rainy."] }),
    ),
    assistantEntry("m1", [call]),
    deferredEntry(call),
  ]);
  const mcpConfig = JSON.stringify({ mcpServers: { bridge: { type: "sdk", name: "bridge" } } });
  await withSessionFile(text, async (path) => {
    await using cli = standIn({
      args: [...CLIENT_ARGS, "--resume", path, "--mcp-config", mcpConfig],
      env: { CLAUDE_CODE_RESUME_PROMPT: " " },
      tools: [weather(false)],
      onToolCall: (_name, input, meta) => `rain in ${input.city} (${JSON.stringify(meta)})`,
    });
    cli.control("i", init({ sdkMcpServers: ["bridge"] }));
    const result = await cli.next(isResult);
    assert.equal(result.result, "Rainy.");
    const [reissued] = toolCalls(cli);
    assert.deepEqual(reissued!.request.message.params.arguments, { city: "Oslo" });
    assert.equal(reissued!.request.message.params._meta["claudecode/toolUseId"], undefined);
    const resultLine = cli.lines.find((line) => line.type === "user");
    assert.equal(resultLine!.message.content[0].tool_use_id, "toolu_A");
  });
  await withSessionFile(text, async (path) => {
    // Without the server in --mcp-config the CLI checks the call before it connects.
    await using cli = standIn({
      args: [...CLIENT_ARGS, "--resume", path],
      tools: [weather(false)],
    });
    cli.control("i", init({ sdkMcpServers: ["bridge"] }));
    const result = await cli.next(isResult);
    assert.deepEqual([result.is_error, result.stop_reason], [true, "tool_deferred_unavailable"]);
  });
});

Deno.test("stand-in: an interrupt ends the turn like the real CLI, and the next turn still runs", async () => {
  await using cli = standIn();
  cli.control("i", init());
  cli.user(steer({ say: ["a", "b", "c"], hang: true }));
  await cli.next((line) => line.event?.delta?.type === "text_delta");
  cli.control("stop", { subtype: "interrupt" });
  const result = await cli.next(isResult);
  assert.equal(result.subtype, "error_during_execution");
  assert.equal(result.terminal_reason, "aborted_streaming");
  cli.user(steer({ say: ["again"] }));
  assert.equal((await cli.result()).result, "again");
  assert.equal(await cli.close(), 0);
});

Deno.test("stand-in: --max-turns ends a tool round with error_max_turns; stdin closing then exits 1", async () => {
  await using cli = standIn({
    args: [...CLIENT_ARGS, "--max-turns", "1"],
    tools: [weather(true)],
    onToolCall: () => "sunny",
  });
  cli.control("i", init({ sdkMcpServers: ["bridge"] }));
  cli.user(steer({ toolCalls: [{ name: "get_weather", input: {} }] }));
  const result = await cli.result();
  assert.deepEqual([result.subtype, result.is_error, result.num_turns], [
    "error_max_turns",
    true,
    2,
  ]);
  assert.equal(await cli.close(), 1);
});

Deno.test("stand-in: an output schema is answered through the StructuredOutput tool", async () => {
  await using cli = standIn();
  cli.control("i", init({ jsonSchema: { type: "object" } }));
  cli.user(steer({ structured: { answer: 42 }, say: ["Here."] }));
  const result = await cli.result();
  assert.deepEqual(result.structured_output, { answer: 42 });
  assert.equal(result.result, '{"answer":42}');
  const initLine = cli.lines.find((line) => line.subtype === "init");
  assert.ok(initLine!.tools.includes("StructuredOutput"));
  assert.ok(cli.lines.some((line) => line.message?.content?.[0]?.name === "StructuredOutput"));
});

Deno.test("stand-in: the recording holds argv, stdin, the resume file, initialize and each turn's settings", async () => {
  const dir = await Deno.makeTempDir({ prefix: "fake-claude-record-" });
  const text = sessionFile([userEntry("q"), assistantEntry("m", [{ type: "text", text: "a" }])]);
  try {
    await withSessionFile(text, async (path) => {
      await using cli = standIn({
        args: [...ARGS, "--resume", path],
        env: { FAKE_CLAUDE_RECORD: dir },
      });
      cli.control("i", init({ systemPrompt: "P" }));
      cli.control("t", { subtype: "set_max_thinking_tokens", max_thinking_tokens: 0 });
      cli.user("turn one");
      await cli.result();
      cli.user("turn two");
      await cli.result();
      assert.equal(await cli.close(), 0);
      const record = JSON.parse(await Deno.readTextFile(`${dir}/${cli.child.pid}.json`));
      assert.deepEqual(record.argv.slice(-2), ["--resume", path]);
      assert.equal(record.resume, text);
      assert.equal(record.initialize.systemPrompt, "P");
      assert.equal(record.stdin.trim().split("\n").length, 4);
      assert.deepEqual(record.turns.map((turn: CliLine) => turn.prompt), ["turn one", "turn two"]);
      assert.deepEqual(record.turns[0].settings.thinking, { type: "disabled" });
      assert.equal(record.turns[0].system, "P");
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("stand-in: a directive holding ']]' in its JSON is read whole; the flood path delivers every delta", async () => {
  await using cli = standIn();
  cli.control("i", init());
  cli.user(steer({ say: ["[[x]]", "y"] }));
  assert.equal((await cli.result()).result, "[[x]]y");
  cli.user(steer({ say: ["x"], repeat: 20_000, stamp: true }));
  const result = await cli.result();
  const deltas = cli.lines.filter((line) => line.event?.delta?.type === "text_delta");
  assert.equal(deltas.length, 20_002);
  assert.match(deltas.at(-1)!.event.delta.text, /^x\d+(\.\d+)?;$/);
  assert.equal(result.subtype, "success");
});

Deno.test("stand-in: crashAfter exits mid-stream; noResult and exit end the process after the turn", async () => {
  {
    await using cli = standIn();
    cli.user(steer({ say: ["a", "b"], crashAfter: 1, exit: 3 }));
    assert.equal(await cli.close(), 3);
    assert.equal(cli.lines.filter((line) => line.event?.delta?.type === "text_delta").length, 1);
  }
  {
    await using cli = standIn();
    cli.user(steer({ noResult: true, exit: 4 }));
    assert.equal(await cli.close(), 4);
    assert.ok(!cli.lines.some(isResult));
  }
});
