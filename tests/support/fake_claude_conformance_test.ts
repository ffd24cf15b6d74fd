/**
 * The stand-in against the real CLI: each scenario runs the same stdin
 * sequence through the real Claude Code CLI (its model scripted by the fake
 * API) and through the stand-in (scripted by a directive in the same user
 * text), and the two outputs must have the same shape, line for line — the
 * line types, events, blocks and control requests, in order — so that tests
 * written against the stand-in hold for the real CLI. A contract for the
 * stand-in: when a CLI upgrade changes the protocol, this fails.
 *
 * Needs the real CLI, like the e2e tests (see `real_cli.ts`).
 */
import assert from "node:assert/strict";
import {
  contentText,
  type FakeScript,
  startFakeAnthropic,
  toolUse,
  toolUses,
} from "./fake_anthropic.ts";
import { textDelta } from "../../src/claude/events.ts";
import { FAKE_CLAUDE, steer as steerMessage } from "./harness.ts";
import { fakeApiEnv, realClaude } from "./real_cli.ts";
import {
  assistantEntry,
  type CliLine,
  deferredEntry,
  type McpTool,
  sessionFile,
  shapeOf,
  StreamJsonCli,
  type StreamJsonCliOptions,
  userEntry,
  withSessionFile,
} from "./stream_json_cli.ts";

const steer = (script: Record<string, unknown>, text = "hi") => steerMessage(script, text).content;
const isResult = (line: CliLine) => line.type === "result";
const ARGS = ["--model", "sonnet", "--tools", "", "--permission-mode", "default"];
const CLIENT_ARGS = [...ARGS, "--allowedTools", "mcp__bridge"];
const HOOKS = { PreToolUse: [{ matcher: "*", hookCallbackIds: ["guard"] }] };

const weather = (readOnlyHint: boolean): McpTool => ({
  name: "get_weather",
  description: "Weather",
  inputSchema: { type: "object", properties: { city: { type: "string" } } },
  annotations: { readOnlyHint },
});
const weatherCall = (city: string) => ({
  name: "mcp__bridge__get_weather",
  input: { city },
  fragments: 2,
});

interface Scenario {
  /** The real CLI's model. */
  api: FakeScript;
  cli: Omit<StreamJsonCliOptions, "bin">;
  /** Writes the stdin sequence and waits for its end. */
  drive(cli: StreamJsonCli): Promise<void>;
}

/** Runs `scenario` through `bin` and returns the shapes of its output lines. */
async function shapes(bin: string, scenario: Scenario, real: boolean): Promise<string[]> {
  await using api = startFakeAnthropic(scenario.api, { cache: { minTokens: 0 } });
  const home = await Deno.makeTempDir({ prefix: "conformance-home-" });
  try {
    const env = { ...(real ? fakeApiEnv(api.url, home) : {}), ...scenario.cli.env };
    await using cli = new StreamJsonCli({ ...scenario.cli, bin, env });
    await scenario.drive(cli);
    assertTextDeltasReadFast(cli);
    // `progress` lines (MCP progress of a re-issued call) are the real CLI's only extra.
    return cli.lines.filter((line) => line.type !== "progress").map(shapeOf);
  } finally {
    await Deno.remove(home, { recursive: true });
  }
}

/** Every text-delta line takes the bridge's fast path, which reads the same text as a full parse. */
function assertTextDeltasReadFast(cli: StreamJsonCli): void {
  cli.lines.forEach((line, i) => {
    if (line.event?.delta?.type !== "text_delta") return;
    const raw = cli.rawLines[i]!;
    assert.equal(textDelta(raw), line.event.delta.text, raw);
  });
}

async function conforms(scenario: Scenario): Promise<void> {
  const real = await shapes(await realClaude(), scenario, true);
  const standIn = await shapes(FAKE_CLAUDE, scenario, false);
  assert.deepEqual(standIn, real);
}

Deno.test("conformance: two text turns on one process", () =>
  conforms({
    api: [{ text: ["Hel", 'lo "you"\n'] }, { text: ["é😀\\"] }],
    cli: { args: ARGS },
    async drive(cli) {
      cli.control("v", { subtype: "get_binary_version" });
      await cli.next((line) => line.type === "control_response");
      cli.control("i", { subtype: "initialize", systemPrompt: "S" });
      cli.control("f", {
        subtype: "apply_flag_settings",
        settings: { env: {}, effortLevel: "low" },
      });
      cli.control("t", { subtype: "set_max_thinking_tokens", max_thinking_tokens: 0 });
      cli.user(steer({ say: ["Hel", 'lo "you"\n'] }));
      await cli.result();
      cli.user(steer({ say: ["é😀\\"] }));
      await cli.result();
    },
  }));

Deno.test("conformance: thinking, then text", () =>
  conforms({
    api: [{
      content: [{ type: "thinking", thinking: ["Hmm", " ok"] }, { type: "text", text: ["Yes"] }],
    }],
    cli: { args: ARGS },
    async drive(cli) {
      cli.control("i", { subtype: "initialize" });
      cli.user(steer({ thinking: ["Hmm", " ok"], say: ["Yes"] }));
      await cli.result();
    },
  }));

for (const readOnly of [true, false]) {
  Deno.test(`conformance: two client tool calls, ${readOnly ? "read-only" : "not read-only"}`, () => {
    const held: PromiseWithResolvers<void>[] = [];
    return conforms({
      api: [
        toolUses([weatherCall("Paris"), weatherCall("Rome")], ["Checking."]),
        { text: ["Sunny both."] },
      ],
      cli: {
        args: CLIENT_ARGS,
        tools: [weather(readOnly)],
        async onToolCall(_name, input) {
          const hold = Promise.withResolvers<void>();
          held.push(hold);
          await hold.promise;
          return `sunny in ${input.city}`;
        },
      },
      async drive(cli) {
        held.length = 0;
        cli.control("i", { subtype: "initialize", sdkMcpServers: ["bridge"] });
        cli.user(steer({
          say: ["Checking."],
          toolCalls: [{ name: "get_weather", input: { city: "Paris" } }, {
            name: "get_weather",
            input: { city: "Rome" },
          }],
          thenSay: ["Sunny both."],
        }));
        // Answer each call only once the message is over, so timing cannot reorder lines.
        for (let answered = 0; answered < 2; answered++) {
          await cli.next((line) => line.event?.type === "message_stop");
          await cli.next(() => held.length > answered);
          held[answered]!.resolve();
          if (answered === 0) {
            await cli.next((line) => line.type === "user");
          }
        }
        await cli.next(isResult);
      },
    });
  });
}

Deno.test("conformance: a PreToolUse deny of a built-in call, then a call that runs", async () => {
  const cwd = await Deno.makeTempDir({ prefix: "conformance-cwd-" });
  await Deno.writeTextFile(`${cwd}/notes.txt`, "inside\n");
  try {
    await conforms({
      api: [
        toolUse("Read", { file_path: "/etc/hostname" }, { fragments: 2 }),
        toolUse("Read", { file_path: "notes.txt" }, { fragments: 2 }),
        { text: ["done"] },
      ],
      cli: {
        cwd,
        args: ["--model", "sonnet", "--tools", "Read", "--permission-mode", "acceptEdits"],
        onHook: (_tool, input) =>
          input.tool_input.file_path.startsWith("/etc/") ? "outside the workspace" : undefined,
      },
      async drive(cli) {
        cli.control("i", { subtype: "initialize", hooks: HOOKS });
        cli.user(steer({
          steps: [
            { toolCalls: [{ name: "Read", input: { file_path: "/etc/hostname" }, builtin: true }] },
            { toolCalls: [{ name: "Read", input: { file_path: "notes.txt" }, builtin: true }] },
            { say: ["done"] },
          ],
        }));
        await cli.next(isResult);
      },
    });
  } finally {
    await Deno.remove(cwd, { recursive: true });
  }
});

Deno.test("conformance: an output schema answered through StructuredOutput", () =>
  conforms({
    api: [toolUse("StructuredOutput", { answer: 42 }, { text: ["Here."], fragments: 2 })],
    cli: { args: ARGS },
    async drive(cli) {
      cli.control("i", { subtype: "initialize", jsonSchema: { type: "object" } });
      cli.user(steer({ structured: { answer: 42 }, say: ["Here."] }));
      await cli.next(isResult);
    },
  }));

Deno.test("conformance: an interrupt mid-stream, then another turn", () =>
  conforms({
    api: [{ text: ["a", "b", "c"], delayMs: 2000 }, { text: ["next"] }],
    cli: { args: ARGS },
    async drive(cli) {
      cli.control("i", { subtype: "initialize" });
      cli.user(steer({ say: ["a", "b", "c"], delayMs: 2000 }));
      await cli.next((line) => line.event?.delta?.type === "text_delta");
      cli.control("stop", { subtype: "interrupt" });
      await cli.next(isResult);
      cli.user(steer({ say: ["next"] }));
      await cli.result();
    },
  }));

Deno.test("conformance: --max-turns 1 stops after one tool round", () =>
  conforms({
    api: [toolUse("Read", { file_path: "missing.txt" }, { fragments: 2 }), { text: ["x"] }],
    cli: {
      args: [
        "--model",
        "sonnet",
        "--tools",
        "Read",
        "--permission-mode",
        "acceptEdits",
        "--max-turns",
        "1",
      ],
    },
    async drive(cli) {
      cli.control("i", { subtype: "initialize" });
      cli.user(
        steer({
          toolCalls: [{ name: "Read", input: { file_path: "missing.txt" }, builtin: true }],
        }),
      );
      await cli.next(isResult);
    },
  }));

Deno.test("conformance: the deferred tool resume", async () => {
  const directive = steer({
    toolCalls: [{ name: "get_weather", input: { city: "Oslo" } }],
    thenSay: ["Rainy."],
  });
  const call = {
    type: "tool_use",
    id: "toolu_A",
    name: "mcp__bridge__get_weather",
    input: { city: "Oslo" },
  };
  const text = sessionFile([
    userEntry(directive),
    assistantEntry("msg_1", [call]),
    deferredEntry(call),
  ]);
  const mcpConfig = JSON.stringify({ mcpServers: { bridge: { type: "sdk", name: "bridge" } } });
  await withSessionFile(text, (path) =>
    conforms({
      api: [{ text: ["Rainy."] }],
      cli: {
        args: [...CLIENT_ARGS, "--resume", path, "--mcp-config", mcpConfig],
        env: { CLAUDE_CODE_RESUME_PROMPT: " " },
        tools: [weather(false)],
        onToolCall: (_name, input) => `rain in ${input.city}`,
      },
      async drive(cli) {
        cli.control("i", { subtype: "initialize", sdkMcpServers: ["bridge"] });
        await cli.next(isResult);
      },
    }));
});

Deno.test("conformance: a resumed history reaches the model as the stand-in reports it", async () => {
  const text = sessionFile([
    userEntry("Earlier question"),
    assistantEntry("msg_1", [
      { type: "text", text: "Let me look." },
      {
        type: "tool_use",
        id: "toolu_1",
        name: "mcp__bridge__get_weather",
        input: { city: "Oslo" },
      },
    ]),
    userEntry([{
      type: "tool_result",
      tool_use_id: "toolu_1",
      content: [{ type: "text", text: "rain" }],
    }]),
    assistantEntry("msg_2", [{ type: "text", text: "It rains." }]),
  ]);
  const prompt = steer({ echo: "history" }, "And now?");
  await withSessionFile(text, async (path) => {
    await using api = startFakeAnthropic([{ text: ["ok"] }]);
    const home = await Deno.makeTempDir({ prefix: "conformance-home-" });
    try {
      const args = [...CLIENT_ARGS, "--resume", path];
      {
        await using real = new StreamJsonCli({
          bin: await realClaude(),
          args,
          env: fakeApiEnv(api.url, home),
          tools: [weather(false)],
        });
        real.control("i", { subtype: "initialize", sdkMcpServers: ["bridge"] });
        real.user(prompt);
        await real.next(isResult);
      }
      await using standIn = new StreamJsonCli({ bin: FAKE_CLAUDE, args, tools: [weather(false)] });
      standIn.control("i", { subtype: "initialize", sdkMcpServers: ["bridge"] });
      standIn.user(prompt);
      const reported = JSON.parse((await standIn.next(isResult)).result);
      // The real CLI adds its date reminder to the first user message and marks breakpoints.
      const sent = api.posts()[0]!.body.messages.map((message: CliLine) => ({
        role: message.role,
        content: message.content
          .filter((block: CliLine) => !contentText([block]).startsWith("<system-reminder>"))
          .map(({ cache_control: _, ...block }: CliLine) => block),
      }));
      assert.deepEqual(reported, sent);
    } finally {
      await Deno.remove(home, { recursive: true });
    }
  });
});
