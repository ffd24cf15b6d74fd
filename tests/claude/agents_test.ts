import assert from "node:assert/strict";
import { loadAgent, loadAgents } from "../../src/claude/agents.ts";

const shipped = new URL("../../agents", import.meta.url).pathname;

Deno.test("ships a no-tools conversational agent and a file-confined workspace agent", async () => {
  const agents = await loadAgents(shipped);
  const conversational = agents.get("conversational");
  const workspace = agents.get("workspace");
  assert.ok(conversational && workspace);
  assert.deepEqual(conversational.settings.tools, []);
  assert.ok(conversational.settings.systemPrompt);
  assert.equal(conversational.template, undefined);
  assert.ok(!workspace.settings.tools.includes("Bash"));
  assert.ok(workspace.settings.tools.includes("Edit"));
  assert.equal(workspace.settings.permissionMode, "acceptEdits");
  assert.deepEqual(workspace.settings.allowedTools, [], "a file-tool allow rule opens every path");
  assert.equal(workspace.template, `${shipped}/workspace/workspace`);
});

Deno.test("an invalid agent.json is refused with a message naming the file and the field", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${dir}/bad`);
    await Deno.writeTextFile(`${dir}/bad/agent.json`, JSON.stringify({ tools: "Read", colour: 1 }));
    await assert.rejects(loadAgent(dir, "bad"), (error: Error) => {
      assert.ok(error instanceof TypeError);
      assert.match(error.message, /bad\/agent\.json/);
      assert.match(error.message, /tools/);
      return true;
    });
    await Deno.writeTextFile(`${dir}/bad/agent.json`, "{ nope");
    await assert.rejects(loadAgent(dir, "bad"), /cannot read .*agent\.json/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("directories without agent.json are not agents; a missing directory names AGENTS_DIR", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${dir}/notes`);
    assert.equal((await loadAgents(dir)).size, 0);
    await assert.rejects(loadAgents(`${dir}/missing`), /AGENTS_DIR/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Writes `settings` as `<dir>/<name>/agent.json` and loads it. */
async function loadWith(dir: string, name: string, settings: unknown) {
  await Deno.mkdir(`${dir}/${name}`, { recursive: true });
  await Deno.writeTextFile(`${dir}/${name}/agent.json`, JSON.stringify(settings));
  return loadAgent(dir, name);
}

Deno.test("an allow rule for a file tool or Bash is a start-up error naming the agent, file, rule and fix", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const rules = [
      "Read",
      "Write",
      "Edit",
      "MultiEdit",
      "NotebookEdit",
      "Glob",
      "Grep",
      "LS",
      "read",
      "Read(//etc/**)",
      "Edit(/**)",
    ];
    for (const rule of rules) {
      await assert.rejects(
        loadWith(dir, "opener", {
          tools: ["Read"],
          allowedTools: [rule],
          permissionMode: "acceptEdits",
        }),
        (error: Error) => {
          assert.ok(error instanceof TypeError);
          assert.match(error.message, /^Agent "opener": /);
          assert.ok(error.message.includes(`${dir}/opener/agent.json`), error.message);
          assert.ok(error.message.includes(`"${rule}"`), error.message);
          assert.match(
            error.message,
            /remove it: with permissionMode acceptEdits, file tools already work inside/,
          );
          return true;
        },
        rule,
      );
    }
    for (const rule of ["Bash", "Bash(*)", "Bash(git status)", "bash(ls:*)"]) {
      await assert.rejects(
        loadWith(dir, "shell", { allowedTools: [rule] }),
        new RegExp(`Agent "shell": .*"${rule.replace(/[()*]/g, "\\$&")}".*Bash cannot be confined`),
        rule,
      );
    }
    // Several rules in one entry are split as the CLI splits them.
    await assert.rejects(loadWith(dir, "joined", { allowedTools: ["TaskCreate, Grep"] }), /"Grep"/);
    await assert.rejects(loadWith(dir, "spaced", { allowedTools: ["TaskList Read"] }), /"Read"/);
    await assert.rejects(
      loadWith(dir, "fetch", { allowedTools: ["WebFetch(domain:x.com)"] }),
      /cannot confine/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("bypassPermissions and tools that cannot be confined are start-up errors", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await assert.rejects(
      loadWith(dir, "bypass", { tools: ["Read"], permissionMode: "bypassPermissions" }),
      /Agent "bypass": .*bypass\/agent\.json.*permissionMode "bypassPermissions".*use "acceptEdits"/,
    );
    const tools: [string, RegExp][] = [
      ["Bash", /runs any command on the host/],
      ["WebFetch", /fetches any URL .*cloud metadata/],
      ["Agent", /subagents/],
      ["default", /every built-in tool/],
      ["read", /spelled differently from the CLI's "Read"/],
      ["Read,Bash", /"Bash"/],
      ["Skill", /not a tool the bridge can confine/],
    ];
    for (const [tool, reason] of tools) {
      await assert.rejects(loadWith(dir, "tooled", { tools: [tool] }), (error: Error) => {
        assert.match(error.message, /^Agent "tooled": .*tooled\/agent\.json/);
        assert.match(error.message, reason);
        assert.match(error.message, /remove it/);
        return true;
      }, tool);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("confinable tools, pathless allow rules and stricter modes load", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const agent = await loadWith(dir, "fine", {
      tools: ["Read", "Write", "Edit", "Glob", "Grep", "NotebookEdit", "TaskCreate", "WebSearch"],
      allowedTools: ["TaskCreate", "WebSearch", "mcp__bridge__lookup"],
      permissionMode: "acceptEdits",
    });
    assert.equal(agent.settings.tools.length, 8);
    for (const permissionMode of ["default", "plan", "dontAsk"]) {
      await loadWith(dir, `mode-${permissionMode}`, { tools: ["Read"], permissionMode });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
