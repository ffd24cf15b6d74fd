/**
 * Contract tests: the facts about the real Claude Code CLI (2.1.197) that the
 * conversation engine relies on, each driven through the bridge's own
 * protocol code (argv, control messages, session files, event parsing)
 * against a fake Anthropic API. A CLI upgrade that changes one of them fails
 * here, loudly, before it breaks a client.
 */
import assert from "node:assert/strict";
import {
  controlSuccess,
  DEFAULT_TURN_SETTINGS,
  initializeRequest,
  mcpToolResult,
  settingsRequests,
  userMessage,
  versionRequest,
} from "../../src/claude/control.ts";
import { sessionFileText } from "../../src/claude/session_file.ts";
import { ToolNames } from "../../src/claude/tool_names.ts";
import type { Turn } from "../../src/conversation/model.ts";
import { CliDriver, testAgent } from "../support/cli_driver.ts";
import { toolResults, toolUse, toolUses } from "../support/fake_anthropic.ts";

const NO_TOOLS = new ToolNames([]);
const WEATHER = new ToolNames(["get_weather", "get-stock.price"]);
const text = (value: string) => ({ type: "text" as const, text: value });
const isResult = (event: { type: string }) => event.type === "result";

/** The text of the last system block (the bridge's system prompt). */
function systemPrompt(body: { system?: { text: string }[] }): string | undefined {
  return body.system?.at(-1)?.text;
}

/** Messages as `role:texts` strings, for compact comparisons. */
function shape(messages: { role: string; content: unknown }[]): string[] {
  return messages.map((message) => {
    const blocks = typeof message.content === "string"
      ? [{ type: "text", text: message.content }]
      : message.content as { type: string; text?: string }[];
    return `${message.role}:${
      blocks.map((block) => block.type === "text" ? block.text!.slice(0, 30) : block.type).join("|")
    }`;
  });
}

Deno.test("contract: a started CLI answers get_binary_version, with the pinned version, without initializing", async () => {
  await using cli = await CliDriver.start({}, [{ text: ["hi"] }]);
  await cli.write(versionRequest("probe"));
  const answer = await cli.next((event) =>
    event.type === "control_response" && event.requestId === "probe"
  );
  assert.equal(answer.type === "control_response" && answer.response.version, "2.1.197");
  // Initialize still counts after the probe: its system prompt reaches the API.
  await cli.write(
    initializeRequest("init", { systemPrompt: "PERSONA-MARKER", clientTools: false, guard: false }),
  );
  await cli.write(userMessage([text("hello")], NO_TOOLS));
  await cli.result();
  assert.equal(systemPrompt(cli.posts()[0]!.body), "PERSONA-MARKER");
});

Deno.test("contract: a live process takes turn after turn as native turns, cache breakpoint on the last user block only", async () => {
  await using cli = await CliDriver.start({}, [{ text: ["one"] }, { text: ["two"] }, {
    text: ["three"],
  }]);
  await cli.write(
    initializeRequest("init", { systemPrompt: "SYS", clientTools: false, guard: false }),
  );
  for (const word of ["first", "second", "third"]) {
    await cli.write(
      settingsRequests(["a", "b"], { thinking: true }) + userMessage([text(word)], NO_TOOLS),
    );
    const result = await cli.result();
    assert.equal(result.is_error, false);
  }
  const last = cli.posts()[2]!.body;
  assert.deepEqual(
    shape(last.messages).map((line) => line.replace(/<system-reminder>[^|]*\|/, "")),
    [
      "user:first",
      "assistant:one",
      "user:second",
      "assistant:two",
      "user:third",
    ],
  );
  const marked = last.messages.flatMap((
    message: { content: { cache_control?: unknown }[] },
    m: number,
  ) =>
    (Array.isArray(message.content) ? message.content : []).flatMap((block, b) =>
      block.cache_control ? [`${m}.${b}`] : []
    )
  );
  assert.deepEqual(marked, [`${last.messages.length - 1}.0`]);
  assert.ok(last.system.some((block: { cache_control?: unknown }) => block.cache_control));
});

Deno.test("contract: per-turn settings set max_tokens, effort, thinking, and request fields (tool_choice, temperature, top_p, stop_sequences); unset restores the defaults", async () => {
  await using cli = await CliDriver.start({}, [{ text: ["a"] }, { text: ["b"] }, { text: ["c"] }]);
  await cli.write(initializeRequest("init", { clientTools: false, guard: false }));
  const turns = [
    { thinking: true },
    {
      thinking: false,
      maxOutputTokens: 1234,
      effort: "low" as const,
      extraBody: {
        tool_choice: { type: "none" },
        temperature: 0.3,
        top_p: 0.8,
        stop_sequences: ["END"],
      },
    },
    { thinking: true },
  ];
  for (const [i, settings] of turns.entries()) {
    await cli.write(
      settingsRequests([`s${i}`, `t${i}`], settings) + userMessage([text(`turn ${i}`)], NO_TOOLS),
    );
    await cli.result();
  }
  const [first, second, third] = cli.posts().map((post) => post.body);
  assert.deepEqual([first.max_tokens, first.thinking.type, first.output_config.effort], [
    64000,
    "adaptive",
    "high",
  ]);
  assert.deepEqual([second.max_tokens, second.thinking.type, second.output_config.effort], [
    1234,
    "disabled",
    "low",
  ]);
  assert.deepEqual(
    [second.tool_choice, second.temperature, second.top_p, second.stop_sequences],
    [{ type: "none" }, 0.3, 0.8, ["END"]],
  );
  assert.deepEqual([third.max_tokens, third.thinking.type, third.output_config.effort], [
    64000,
    "adaptive",
    "high",
  ]);
  assert.deepEqual([third.tool_choice, third.temperature, third.stop_sequences], [
    undefined,
    undefined,
    undefined,
  ]);
});

Deno.test("contract: a CLI sent no settings runs with the defaults, so the bridge writes settings only when they change", async () => {
  await using cli = await CliDriver.start({}, [{ text: ["a"] }, { text: ["b"] }]);
  await cli.write(initializeRequest("init", { clientTools: false, guard: false }));
  await cli.write(userMessage([text("no settings sent")], NO_TOOLS));
  await cli.result();
  await cli.write(
    settingsRequests(["s", "t"], DEFAULT_TURN_SETTINGS) +
      userMessage([text("defaults sent")], NO_TOOLS),
  );
  await cli.result();
  const sampling = (body: Record<string, unknown>) => {
    const { max_tokens, thinking, output_config, temperature, top_p, tool_choice } = body;
    return { max_tokens, thinking, output_config, temperature, top_p, tool_choice };
  };
  const [fresh, explicit] = cli.posts().map((post) => sampling(post.body));
  assert.deepEqual(fresh, explicit);
  assert.equal(settingsRequests(["s", "t"], DEFAULT_TURN_SETTINGS, DEFAULT_TURN_SETTINGS), "");
});

Deno.test("contract: a resumed session file reaches the API exactly as the live path does", async () => {
  const history: Turn[] = [
    { role: "user", content: [text("first")] },
    { role: "assistant", content: [text("one")] },
  ];
  let live;
  {
    await using cli = await CliDriver.start({}, [{ text: ["one"] }, { text: ["two"] }]);
    await cli.write(
      initializeRequest("init", { systemPrompt: "SYS", clientTools: false, guard: false }),
    );
    await cli.write(
      settingsRequests(["a", "b"], { thinking: true }) + userMessage([text("first")], NO_TOOLS),
    );
    await cli.result();
    await cli.write(
      settingsRequests(["c", "d"], { thinking: true }) + userMessage([text("second")], NO_TOOLS),
    );
    await cli.result();
    live = cli.posts()[1]!.body;
  }
  const dir = await Deno.makeTempDir();
  try {
    const file = `${dir}/session.jsonl`;
    const written = sessionFileText(history, NO_TOOLS);
    await Deno.writeTextFile(file, written);
    await using cli = await CliDriver.start({ resumeFile: file }, [{ text: ["two"] }]);
    await cli.write(
      initializeRequest("init", { systemPrompt: "SYS", clientTools: false, guard: false }),
    );
    await cli.write(
      settingsRequests(["a", "b"], { thinking: true }) + userMessage([text("second")], NO_TOOLS),
    );
    await cli.result();
    const resumed = cli.posts()[0]!.body;
    assert.deepEqual(
      { system: resumed.system, messages: resumed.messages, tools: resumed.tools },
      { system: live.system, messages: live.messages, tools: live.tools },
    );
    assert.equal(
      await Deno.readTextFile(file),
      written,
      "the CLI leaves the file as it was written",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("contract: a session file carries images, tool calls (under their MCP names) and tool results as native turns", async () => {
  const png =
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";
  const history: Turn[] = [
    { role: "assistant", content: [text("Hi, I am Ava.")] },
    { role: "user", content: [text("look"), { type: "image", mediaType: "image/png", data: png }] },
    {
      role: "assistant",
      content: [text("calling"), {
        type: "tool_use",
        id: "toolu_1",
        name: "get_weather",
        input: { city: "Oslo" },
      }],
    },
    { role: "user", content: [{ type: "tool_result", toolUseId: "toolu_1", content: "rain" }] },
    { role: "assistant", content: [text("It rains.")] },
  ];
  const dir = await Deno.makeTempDir();
  try {
    const file = `${dir}/session.jsonl`;
    await Deno.writeTextFile(
      file,
      sessionFileText([{ role: "user", content: [text("OPENING")] }, ...history], WEATHER),
    );
    await using cli = await CliDriver.start({ resumeFile: file, clientTools: true }, [{
      text: ["ok"],
    }]);
    await cli.write(initializeRequest("init", { clientTools: true, guard: false }));
    cli.serveMcp((message) =>
      message.method === "tools/list"
        ? { result: { tools: [{ name: "get_weather", inputSchema: { type: "object" } }] } }
        : message.method === "initialize"
        ? {
          result: {
            protocolVersion: "2025-06-18",
            capabilities: { tools: {} },
            serverInfo: { name: "bridge", version: "1" },
          },
        }
        : { result: {} }
    );
    await cli.write(
      settingsRequests(["a", "b"], { thinking: true }) + userMessage([text("next")], WEATHER),
    );
    await cli.result();
    const body = cli.posts()[0]!.body;
    assert.deepEqual(
      shape(body.messages).map((line) => line.replace(/<system-reminder>[^|]*\|/, "")),
      [
        "user:OPENING",
        "assistant:Hi, I am Ava.",
        "user:look|image",
        "assistant:calling|tool_use",
        "user:tool_result",
        "assistant:It rains.",
        "user:next",
      ],
    );
    assert.equal(body.messages[3].content[1].name, "mcp__bridge__get_weather");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("contract: client tools over the in-process MCP server — listed, called in parallel with the tool_use id, held, then continued", async () => {
  await using cli = await CliDriver.start({ clientTools: true }, [
    toolUses([
      { name: "mcp__bridge__get_weather", input: { city: "Paris" }, id: "toolu_A" },
      { name: "mcp__bridge__get-stock_price", input: { sym: "X" }, id: "toolu_B" },
    ], ["Checking."]),
    { text: ["Done."] },
  ]);
  const calls: { requestId: string; message: Record<string, unknown> }[] = [];
  void (async () => {
    for (;;) {
      const event = await cli.next(
        (e) => e.type === "control_request" && e.request.subtype === "mcp_message",
        600_000,
      ).catch(() => undefined);
      if (!event || event.type !== "control_request") return;
      const message = event.request.message as Record<string, unknown>;
      if (message.method === "tools/call") {
        calls.push({ requestId: event.requestId, message });
        continue;
      }
      const result = message.method === "initialize"
        ? {
          protocolVersion: "2025-06-18",
          capabilities: { tools: {} },
          serverInfo: { name: "bridge", version: "1" },
        }
        : message.method === "tools/list"
        ? {
          tools: ["get_weather", "get-stock_price"].map((name) => ({
            name,
            inputSchema: { type: "object" },
            annotations: { readOnlyHint: true },
          })),
        }
        : {};
      await cli.write(
        controlSuccess(event.requestId, {
          mcp_response: { jsonrpc: "2.0", id: message.id, result },
        }),
      );
    }
  })();
  await cli.write(initializeRequest("init", { clientTools: true, guard: false }));
  await cli.write(
    settingsRequests(["a", "b"], { thinking: true }) + userMessage([text("go")], WEATHER),
  );
  const init = await cli.next((event) => event.type === "init");
  assert.ok(
    init.type === "init" &&
      init.mcpServers.some((s) => s.name === "bridge" && s.status === "connected"),
  );
  await cli.next((event) => event.type === "message_delta" && event.stopReason === "tool_use");
  // Both calls arrive without either being answered (readOnlyHint), each naming its tool_use id.
  while (calls.length < 2) await cli.next((event) => event.type === "control_request", 10_000);
  const params = calls.map((call) =>
    call.message.params as Record<string, Record<string, unknown>>
  );
  // tools/call names the tool as tools/list listed it (the alias the bridge maps back).
  assert.deepEqual(params.map((p) => p.name).sort(), ["get-stock_price", "get_weather"]);
  assert.deepEqual(params.map((p) => p._meta!["claudecode/toolUseId"]).sort(), [
    "toolu_A",
    "toolu_B",
  ]);
  for (const call of calls) {
    await cli.write(
      controlSuccess(call.requestId, {
        mcp_response: mcpToolResult(call.message.id, { content: `result of ${call.message.id}` }),
      }),
    );
  }
  const result = await cli.result();
  assert.equal(result.result, "Done.");
  const ids = toolResults(cli.posts()[1]!).map((r) => r.tool_use_id).sort();
  assert.deepEqual(ids, ["toolu_A", "toolu_B"]);
});

Deno.test("contract: a session ending in a deferred call re-issues it over MCP (no tool_use id, no added text) and continues", async () => {
  const history: Turn[] = [
    { role: "user", content: [text("weather in Paris and Rome")] },
    {
      role: "assistant",
      content: [
        text("Checking."),
        { type: "tool_use", id: "toolu_A", name: "get_weather", input: { city: "Paris" } },
        { type: "tool_use", id: "toolu_B", name: "get_weather", input: { city: "Rome" } },
      ],
    },
    {
      role: "user",
      content: [{ type: "tool_result", toolUseId: "toolu_A", content: "Paris: rain" }],
    },
  ];
  const dir = await Deno.makeTempDir();
  try {
    const file = `${dir}/session.jsonl`;
    await Deno.writeTextFile(
      file,
      sessionFileText(history, WEATHER, {
        id: "toolu_B",
        name: "get_weather",
        input: { city: "Rome" },
      }),
    );
    await using cli = await CliDriver.start({
      resumeFile: file,
      clientTools: true,
      deferredTool: true,
    }, [{ text: ["Rain and sun."] }]);
    const reissued: Record<string, unknown>[] = [];
    cli.serveMcp((message) => {
      if (message.method === "initialize") {
        return {
          result: {
            protocolVersion: "2025-06-18",
            capabilities: { tools: {} },
            serverInfo: { name: "bridge", version: "1" },
          },
        };
      }
      if (message.method === "tools/list") {
        return { result: { tools: [{ name: "get_weather", inputSchema: { type: "object" } }] } };
      }
      if (message.method === "tools/call") {
        reissued.push(message.params as Record<string, unknown>);
        return mcpToolResult(message.id, { content: "Rome: sun" });
      }
      return { result: {} };
    });
    await cli.write(
      initializeRequest("init", { clientTools: true, guard: false }) +
        settingsRequests(["a", "b"], { thinking: false }),
    );
    const result = await cli.result();
    assert.equal(result.result, "Rain and sun.");
    assert.equal(reissued.length, 1);
    assert.deepEqual(reissued[0]!.arguments, { city: "Rome" });
    assert.equal(
      (reissued[0]!._meta as Record<string, unknown> | undefined)?.["claudecode/toolUseId"],
      undefined,
    );
    const body = cli.posts()[0]!.body;
    const last = body.messages.at(-1);
    assert.deepEqual(toolResults(cli.posts()[0]!).map((r) => [r.tool_use_id, r.text]), [[
      "toolu_A",
      "Paris: rain",
    ], ["toolu_B", "Rome: sun"]]);
    assert.ok(!JSON.stringify(last).includes("Continue from where you left off"));
    assert.equal(body.thinking.type, "disabled");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("contract: the PreToolUse hook registered in initialize is asked first, with an absolute path, and its deny reaches the model", async () => {
  const outside = await Deno.makeTempDir({ prefix: "cli-contract-outside-" });
  try {
    await Deno.writeTextFile(`${outside}/secret.txt`, "SECRET");
    await using cli = await CliDriver.start(
      { agent: testAgent({ tools: ["Read", "Write", "Glob"], permissionMode: "acceptEdits" }) },
      [
        toolUse("Write", { file_path: "inside.txt", content: "fine" }),
        toolUse("Read", { file_path: "inside.txt" }),
        { text: ["end"] },
      ],
    );
    const asked: Record<string, unknown>[] = [];
    void (async () => {
      for (;;) {
        const event = await cli.next(
          (e) => e.type === "control_request" && e.request.subtype === "hook_callback",
          600_000,
        ).catch(() => undefined);
        if (!event || event.type !== "control_request") return;
        const input = event.request.input as Record<string, unknown>;
        asked.push(input);
        const deny = input.tool_name === "Read";
        await cli.write(
          controlSuccess(
            event.requestId,
            deny
              ? {
                hookSpecificOutput: {
                  hookEventName: "PreToolUse",
                  permissionDecision: "deny",
                  permissionDecisionReason: "DENY-MARKER",
                },
              }
              : {},
          ),
        );
      }
    })();
    await cli.write(
      initializeRequest("init", { clientTools: false, guard: true }) +
        userMessage([text("go")], NO_TOOLS),
    );
    await cli.result();
    assert.deepEqual(asked.map((input) => input.tool_name), ["Write", "Read"]);
    assert.equal(
      (asked[0]!.tool_input as Record<string, unknown>).file_path,
      `${await Deno.realPath(cli.cwd)}/inside.txt`,
    );
    assert.equal(asked[0]!.cwd, await Deno.realPath(cli.cwd));
    const [write, read] = [toolResults(cli.posts()[1]!)[0]!, toolResults(cli.posts()[2]!)[0]!];
    assert.equal(write.is_error, false);
    assert.deepEqual([read.is_error, read.text], [true, "DENY-MARKER"]);
  } finally {
    await Deno.remove(outside, { recursive: true });
  }
});

Deno.test("contract: acceptEdits keeps Read outside the cwd out, but not a Glob with an absolute pattern (the hook must)", async () => {
  const outside = await Deno.makeTempDir({ prefix: "cli-contract-outside-" });
  try {
    await Deno.writeTextFile(`${outside}/secret.txt`, "SECRET");
    await using cli = await CliDriver.start(
      { agent: testAgent({ tools: ["Read", "Glob"], permissionMode: "acceptEdits" }) },
      [
        toolUse("Read", { file_path: `${outside}/secret.txt` }),
        toolUse("Glob", { pattern: `${outside}/*` }),
        { text: ["end"] },
      ],
    );
    await cli.write(
      initializeRequest("init", { clientTools: false, guard: false }) +
        userMessage([text("go")], NO_TOOLS),
    );
    await cli.result();
    const read = toolResults(cli.posts()[1]!)[0]!;
    const glob = toolResults(cli.posts()[2]!)[0]!;
    assert.equal(read.is_error, true);
    assert.ok(!read.text.includes("SECRET"));
    // The CLI's own check lets this through; the bridge's hook is what refuses it.
    assert.match(glob.text, /secret\.txt/);
  } finally {
    await Deno.remove(outside, { recursive: true });
  }
});

Deno.test("contract: an output schema set in initialize makes the result carry structured_output", async () => {
  await using cli = await CliDriver.start(
    {},
    (request) =>
      request.body?.tools?.some((tool: { name: string }) => tool.name === "StructuredOutput")
        ? toolUse("StructuredOutput", { answer: 42 })
        : { text: ["done"] },
  );
  await cli.write(
    initializeRequest("init", {
      jsonSchema: {
        type: "object",
        properties: { answer: { type: "number" } },
        required: ["answer"],
      },
      clientTools: false,
      guard: false,
    }) + userMessage([text("q")], NO_TOOLS),
  );
  const result = await cli.next(isResult);
  assert.deepEqual(result.type === "result" && result.result.structured_output, { answer: 42 });
});
