import assert from "node:assert/strict";
import type { Agent } from "../../src/claude/agents.ts";
import { buildArgs, stdinFor, userMessageLine } from "../../src/claude/args.ts";

const agent: Agent = {
  name: "conversational",
  settings: {
    description: "",
    systemPrompt: "Be brief.",
    tools: [],
    allowedTools: [],
    permissionMode: "default",
    maxTurns: 1,
  },
};

function valueOf(args: string[], flag: string): string | undefined {
  const at = args.indexOf(flag);
  return at >= 0 ? args[at + 1] : undefined;
}

Deno.test("stream-json runs read stream-json input and include partial messages", () => {
  const args = buildArgs({ agent, model: "haiku", output: "stream-json" });
  assert.equal(valueOf(args, "--model"), "haiku");
  assert.equal(valueOf(args, "--output-format"), "stream-json");
  assert.equal(valueOf(args, "--input-format"), "stream-json");
  assert.ok(args.includes("--include-partial-messages"));
  assert.ok(args.includes("--verbose"));
  assert.ok(args.includes("--print"));
});

Deno.test("json runs read plain text and stream nothing partial", () => {
  const args = buildArgs({ agent, model: "sonnet", output: "json" });
  assert.equal(valueOf(args, "--output-format"), "json");
  assert.ok(!args.includes("--input-format"));
  assert.ok(!args.includes("--include-partial-messages"));
  assert.ok(!args.includes("--verbose"), "--verbose makes json output an array");
});

Deno.test("the agent's tools, permissions, turns and system prompt become flags", () => {
  const args = buildArgs({
    agent: {
      name: "workspace",
      settings: {
        description: "",
        tools: ["Read", "Edit"],
        allowedTools: ["Edit"],
        permissionMode: "acceptEdits",
        maxTurns: 8,
      },
    },
    model: "opus",
    output: "json",
  });
  assert.equal(valueOf(args, "--tools"), "Read,Edit");
  assert.equal(valueOf(args, "--allowedTools"), "Edit");
  assert.equal(valueOf(args, "--permission-mode"), "acceptEdits");
  assert.equal(valueOf(args, "--max-turns"), "8");
  assert.ok(!args.includes("--system-prompt"));
  assert.equal(
    valueOf(buildArgs({ agent, model: "opus", output: "json" }), "--system-prompt"),
    "Be brief.",
  );
});

Deno.test("no tools is an explicit empty --tools, and the run is isolated from the host", () => {
  const args = buildArgs({ agent, model: "haiku", output: "json" });
  assert.equal(valueOf(args, "--tools"), "");
  assert.equal(valueOf(args, "--setting-sources"), "");
  assert.ok(args.includes("--no-session-persistence"));
  assert.ok(args.includes("--strict-mcp-config"));
});

Deno.test("a JSON schema is passed as --json-schema", () => {
  const schema = { type: "object", properties: { a: { type: "string" } } };
  const args = buildArgs({ agent, model: "haiku", output: "json", jsonSchema: schema });
  assert.deepEqual(JSON.parse(valueOf(args, "--json-schema")!), schema);
});

Deno.test("the prompt is never in argv, however long", () => {
  const args = buildArgs({ agent, model: "haiku", output: "json" });
  assert.ok(args.every((arg) => arg.length < 1000));
});

Deno.test("stdin is plain text for json and one user message line for stream-json", () => {
  const image = {
    type: "image" as const,
    source: { type: "base64" as const, media_type: "image/png", data: "AAAA" },
  };
  const prompt = { text: "hello\nworld", images: [image] };
  assert.equal(stdinFor({ text: "hello\nworld", images: [] }, "json"), "hello\nworld");
  const line = stdinFor(prompt, "stream-json");
  assert.equal(line, userMessageLine(prompt));
  assert.ok(line.endsWith("\n"));
  assert.equal(line.indexOf("\n"), line.length - 1);
  assert.deepEqual(JSON.parse(line), {
    type: "user",
    message: { role: "user", content: [{ type: "text", text: "hello\nworld" }, image] },
  });
});
