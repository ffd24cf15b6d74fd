/**
 * buildArgs / processEnv: every process speaks stream-json both ways, never
 * carries anything a client sent in argv, swaps the agent's tools for the
 * bridge's MCP server when the client brings tools, and resumes session
 * files (with the in-process server declared for a deferred tool call).
 */
import assert from "node:assert/strict";
import type { Agent } from "../../src/claude/agents.ts";
import { buildArgs, CLI_ENV, processEnv, type ProcessSpec } from "../../src/claude/args.ts";
import { testAgent } from "../support/cli_driver.ts";

const SYSTEM = "SYSTEM-PROMPT-MARKER: never in argv";

const plain: Agent = testAgent({ systemPrompt: SYSTEM });
const workspace: Agent = testAgent({
  systemPrompt: SYSTEM,
  tools: ["Read", "Glob", "Grep"],
  allowedTools: ["TodoWrite"],
  permissionMode: "acceptEdits",
  maxTurns: 8,
});

function valueOf(args: string[], flag: string): string | undefined {
  const at = args.indexOf(flag);
  return at >= 0 ? args[at + 1] : undefined;
}

const spec = (agent: Agent, extra: Partial<ProcessSpec> = {}): ProcessSpec => ({
  agent,
  model: "sonnet",
  clientTools: false,
  ...extra,
});

Deno.test("every process prints and reads stream-json, with partial messages", () => {
  for (const clientTools of [false, true]) {
    const args = buildArgs(spec(workspace, { clientTools }));
    assert.ok(args.includes("--print"));
    assert.equal(valueOf(args, "--output-format"), "stream-json");
    assert.equal(valueOf(args, "--input-format"), "stream-json");
    assert.ok(args.includes("--verbose"), "stream-json output needs --verbose");
    assert.ok(args.includes("--include-partial-messages"));
    assert.equal(valueOf(args, "--model"), "sonnet");
  }
});

Deno.test("the process is isolated from the host: no persistence, settings or other MCP servers", () => {
  const args = buildArgs(spec(plain));
  assert.ok(args.includes("--no-session-persistence"));
  assert.equal(valueOf(args, "--setting-sources"), "");
  assert.ok(args.includes("--strict-mcp-config"));
  assert.equal(
    CLI_ENV.CLAUDE_CODE_DISABLE_CLAUDE_MDS,
    "1",
    "no CLAUDE.md from the host reaches the model",
  );
  assert.equal(CLI_ENV.CLAUDE_CODE_DISABLE_AUTO_MEMORY, "1");
  assert.equal(CLI_ENV.CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC, "1");
});

Deno.test("no prompt material is ever in argv: system prompt, schema and history go elsewhere", () => {
  const specs = [
    spec(plain),
    spec(workspace),
    spec(workspace, { clientTools: true }),
    spec(plain, {
      clientTools: true,
      resumeFile: "/tmp/x/private/session.jsonl",
      deferredTool: true,
    }),
  ];
  for (const each of specs) {
    const args = buildArgs(each);
    assert.ok(!args.some((arg) => arg.includes("SYSTEM-PROMPT-MARKER")), "no system prompt");
    for (const flag of ["--system-prompt", "--append-system-prompt", "--json-schema", "-p"]) {
      assert.ok(!args.includes(flag), flag);
    }
    assert.ok(args.every((arg) => arg.length < 200), "no argument carries a payload");
  }
});

Deno.test("without client tools: the agent's tools, allowed rules plus the bridge's server, turn limit", () => {
  const args = buildArgs(spec(workspace));
  assert.equal(valueOf(args, "--tools"), "Read,Glob,Grep");
  assert.equal(valueOf(args, "--allowedTools"), "TodoWrite,mcp__bridge");
  assert.equal(valueOf(args, "--permission-mode"), "acceptEdits");
  assert.equal(valueOf(args, "--max-turns"), "8");
});

Deno.test("with client tools: no built-in tools, only mcp__bridge allowed, no turn limit", () => {
  const args = buildArgs(spec(workspace, { clientTools: true }));
  assert.equal(valueOf(args, "--tools"), "");
  assert.equal(valueOf(args, "--allowedTools"), "mcp__bridge");
  assert.equal(valueOf(args, "--permission-mode"), "acceptEdits");
  assert.ok(!args.includes("--max-turns"), "the client bounds the tool rounds");
});

Deno.test("an agent without tools starts the same argv with or without client tools", () => {
  const agent = testAgent({ systemPrompt: SYSTEM });
  const without = buildArgs(spec(agent));
  assert.deepEqual(buildArgs(spec(agent, { clientTools: true })), without);
  assert.equal(valueOf(without, "--tools"), "");
  assert.equal(valueOf(without, "--allowedTools"), "mcp__bridge");
  assert.deepEqual(processEnv(spec(agent, { clientTools: true })), processEnv(spec(agent)));
});

Deno.test("--resume names the session file; nothing else changes", () => {
  const file = "/tmp/bridge/run-1/private/session.jsonl";
  const args = buildArgs(spec(plain, { resumeFile: file }));
  assert.equal(valueOf(args, "--resume"), file);
  assert.deepEqual(args.slice(0, -2), buildArgs(spec(plain)));
  assert.ok(!args.includes("--mcp-config"));
  assert.deepEqual(processEnv(spec(plain, { resumeFile: file })), CLI_ENV);
});

Deno.test("a deferred tool call declares the sdk bridge server and a blank resume prompt", () => {
  const deferred = spec(plain, {
    clientTools: true,
    resumeFile: "/tmp/s.jsonl",
    deferredTool: true,
  });
  const args = buildArgs(deferred);
  assert.equal(valueOf(args, "--resume"), "/tmp/s.jsonl");
  assert.deepEqual(JSON.parse(valueOf(args, "--mcp-config")!), {
    mcpServers: { bridge: { type: "sdk", name: "bridge" } },
  });
  assert.ok(args.includes("--strict-mcp-config"));
  assert.deepEqual(processEnv(deferred), { ...CLI_ENV, CLAUDE_CODE_RESUME_PROMPT: " " });
  assert.equal(processEnv(spec(plain)).CLAUDE_CODE_RESUME_PROMPT, undefined);
});
