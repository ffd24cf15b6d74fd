import assert from "node:assert/strict";
import type { Agent } from "../../src/claude/agents.ts";
import { Workspace } from "../../src/claude/workspace.ts";

const settings = {
  description: "",
  tools: [],
  allowedTools: [],
  permissionMode: "default" as const,
};

Deno.test("a workspace is a fresh copy of the agent's template, gone after disposal", async () => {
  const root = await Deno.makeTempDir();
  const template = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${template}/notes/deep`, { recursive: true });
    await Deno.writeTextFile(`${template}/notes/deep/a.txt`, "A");
    await Deno.writeTextFile(`${template}/b.txt`, "B");
    const agent: Agent = { name: "tpl", template, settings };
    let path: string;
    {
      await using first = await Workspace.create(`${root}/nested`, agent);
      await using second = await Workspace.create(`${root}/nested`, agent);
      path = first.path;
      assert.notEqual(first.path, second.path);
      assert.match(first.path, /\/tpl-/);
      assert.equal(await Deno.readTextFile(`${first.path}/notes/deep/a.txt`), "A");
      assert.equal(await Deno.readTextFile(`${first.path}/b.txt`), "B");
      await Deno.writeTextFile(`${first.path}/b.txt`, "changed");
      assert.equal(await Deno.readTextFile(`${second.path}/b.txt`), "B");
    }
    await assert.rejects(Deno.stat(path), Deno.errors.NotFound);
    assert.equal(await Deno.readTextFile(`${template}/b.txt`), "B");
  } finally {
    await Deno.remove(root, { recursive: true });
    await Deno.remove(template, { recursive: true });
  }
});

Deno.test("an agent without a template gets an empty directory", async () => {
  const root = await Deno.makeTempDir();
  try {
    await using workspace = await Workspace.create(root, { name: "plain", settings });
    assert.deepEqual(await Array.fromAsync(Deno.readDir(workspace.path)), []);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
