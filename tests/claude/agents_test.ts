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
  assert.notEqual(workspace.settings.permissionMode, "bypassPermissions");
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
