import assert from "node:assert/strict";
import { RUN_DIRECTORY_PATTERN, sweepWorkspaces, Workspace } from "../../src/claude/workspace.ts";
import { waitFor } from "../support/processes.ts";

const MODULE = new URL("../../src/claude/workspace.ts", import.meta.url).href;

function mode(path: string): number {
  return (Deno.statSync(path).mode ?? 0) & 0o777;
}

Deno.test("a run directory holds work/ (the template's copy) and private/ (0700); disposal removes it", async () => {
  const root = await Deno.makeTempDir();
  const template = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${template}/notes/deep`, { recursive: true });
    await Deno.writeTextFile(`${template}/notes/deep/a.txt`, "A");
    await Deno.writeTextFile(`${template}/b.txt`, "B");
    await Deno.symlink("/etc/passwd", `${template}/link`);
    const agent = { name: "tpl", template };
    let path: string;
    {
      await using first = await Workspace.create(`${root}/nested`, agent);
      await using second = await Workspace.create(`${root}/nested`, agent);
      path = first.path;
      assert.notEqual(first.path, second.path);
      assert.equal(first.path.slice(0, first.path.lastIndexOf("/")), `${root}/nested`);
      assert.match(first.path.slice(first.path.lastIndexOf("/") + 1), /^run-tpl-[0-9a-f]{16}$/);
      assert.equal(first.workDir, `${first.path}/work`);
      assert.equal(first.privateDir, `${first.path}/private`);
      assert.equal(first.realWorkDir, await Deno.realPath(first.workDir));
      assert.equal(mode(first.path), 0o700);
      assert.equal(mode(first.privateDir), 0o700);
      assert.deepEqual(await Array.fromAsync(Deno.readDir(first.privateDir)), []);
      assert.equal(await Deno.readTextFile(`${first.workDir}/notes/deep/a.txt`), "A");
      assert.equal(await Deno.readTextFile(`${first.workDir}/b.txt`), "B");
      await assert.rejects(
        Deno.lstat(`${first.workDir}/link`),
        Deno.errors.NotFound,
        "symlinks are not copied",
      );
      await Deno.writeTextFile(`${first.workDir}/b.txt`, "changed");
      assert.equal(await Deno.readTextFile(`${second.workDir}/b.txt`), "B");
    }
    await assert.rejects(Deno.stat(path), Deno.errors.NotFound);
    assert.deepEqual(await Array.fromAsync(Deno.readDir(`${root}/nested`)), []);
    assert.equal(await Deno.readTextFile(`${template}/b.txt`), "B");
  } finally {
    await Deno.remove(root, { recursive: true });
    await Deno.remove(template, { recursive: true });
  }
});

Deno.test("without a template work/ is empty; any agent name gives a well-formed directory name", async () => {
  const root = await Deno.makeTempDir();
  try {
    await using plain = await Workspace.create(root, { name: "plain" });
    assert.deepEqual(await Array.fromAsync(Deno.readDir(plain.workDir)), []);
    for (const name of ["../../etc", "a b/c", "x".repeat(300), "", "émoji 🙂"]) {
      await using odd = await Workspace.create(root, { name });
      const base = odd.path.slice(odd.path.lastIndexOf("/") + 1);
      assert.match(base, RUN_DIRECTORY_PATTERN, name);
      assert.equal(odd.path, `${root}/${base}`);
    }
    await plain.remove();
    await plain.remove();
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("realWorkDir resolves a root reached through a symlink", async () => {
  const base = await Deno.realPath(await Deno.makeTempDir());
  try {
    await Deno.mkdir(`${base}/real`);
    await Deno.symlink(`${base}/real`, `${base}/alias`);
    await using workspace = await Workspace.create(`${base}/alias`, { name: "a" });
    assert.ok(workspace.workDir.startsWith(`${base}/alias/`));
    assert.ok(workspace.realWorkDir.startsWith(`${base}/real/`));
  } finally {
    await Deno.remove(base, { recursive: true });
  }
});

Deno.test("the sweep removes only leftover run directories: ours, well-named and unlocked", async () => {
  const root = await Deno.makeTempDir();
  const elsewhere = await Deno.makeTempDir();
  try {
    const stale = `${root}/run-workspace-0123456789abcdef`;
    const staleNoLock = `${root}/run-conversational-fedcba9876543210`;
    const staleHidden = `${root}/.run-workspace-00000000000000aa`;
    const hiddenNoLock = `${root}/.run-workspace-00000000000000bb`;
    for (const dir of [stale, staleNoLock, staleHidden, hiddenNoLock]) {
      await Deno.mkdir(`${dir}/work/deep`, { recursive: true });
      await Deno.writeTextFile(`${dir}/work/deep/file.txt`, "left over");
    }
    await Deno.writeTextFile(`${stale}/.lock`, "");
    await Deno.writeTextFile(`${staleHidden}/.lock`, "");
    const kept = [
      "run-workspace-0123456789ABCDEF",
      "run-workspace-0123456789abcde",
      "run--0123456789abcdef",
      "workspace-abc123",
      "run-workspace-0123456789abcdef-x",
      "notes",
    ];
    for (const name of kept) await Deno.mkdir(`${root}/${name}`);
    await Deno.writeTextFile(`${root}/run-file-0123456789abcdef`, "a file, not a directory");
    await Deno.writeTextFile(`${elsewhere}/keep.txt`, "keep");
    await Deno.symlink(elsewhere, `${root}/run-link-0123456789abcdef`);
    await using live = await Workspace.create(root, { name: "workspace" });

    const removed = await sweepWorkspaces(root);
    assert.deepEqual(removed.sort(), [stale, staleHidden, staleNoLock].sort());
    const left = (await Array.fromAsync(Deno.readDir(root))).map((entry) => entry.name).sort();
    const expected = [
      ...kept,
      "run-file-0123456789abcdef",
      "run-link-0123456789abcdef",
      hiddenNoLock.slice(root.length + 1),
      live.path.slice(root.length + 1),
    ];
    assert.deepEqual(left, expected.sort());
    assert.equal(await Deno.readTextFile(`${elsewhere}/keep.txt`), "keep");
    assert.equal((await Deno.stat(live.workDir)).isDirectory, true);
  } finally {
    await Deno.remove(root, { recursive: true });
    await Deno.remove(elsewhere, { recursive: true });
  }
});

Deno.test("the sweep leaves run directories owned by another user", async () => {
  const root = await Deno.makeTempDir();
  try {
    const leftover = `${root}/run-workspace-0123456789abcdef`;
    await Deno.mkdir(leftover);
    const ours = (await Deno.lstat(leftover)).uid!;
    assert.deepEqual(await sweepWorkspaces(root, { uid: ours + 1 }), []);
    assert.deepEqual(await sweepWorkspaces(root, { uid: ours }), [leftover]);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("a SIGKILLed bridge's run directory is kept while it lives and swept after", async () => {
  const root = await Deno.makeTempDir();
  const report = `${root}/../${root.slice(root.lastIndexOf("/") + 1)}-report`;
  const script = `
    import { Workspace } from ${JSON.stringify(MODULE)};
    const workspace = await Workspace.create(${JSON.stringify(root)}, { name: "workspace" });
    await Deno.writeTextFile(${JSON.stringify(report)}, workspace.path);
    setInterval(() => {}, 1 << 30);
  `;
  const owner = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", "--allow-write", "-"],
    stdin: "piped",
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  try {
    const writer = owner.stdin.getWriter();
    await writer.write(new TextEncoder().encode(script));
    await writer.close();
    await waitFor(
      async () => (await Deno.readTextFile(report).catch(() => "")) !== "",
      10_000,
      "no workspace made",
    );
    const path = await Deno.readTextFile(report);
    assert.deepEqual(await sweepWorkspaces(root), [], "a live bridge's run directory was swept");
    owner.kill("SIGKILL");
    await owner.status;
    assert.deepEqual(await sweepWorkspaces(root), [path]);
    assert.deepEqual(await Array.fromAsync(Deno.readDir(root)), []);
  } finally {
    try {
      owner.kill("SIGKILL");
    } catch {
      // Already gone.
    }
    await owner.status;
    await Deno.remove(root, { recursive: true });
    await Deno.remove(report).catch(() => {});
  }
});

Deno.test("a missing root has nothing to sweep; a root that is not a directory names WORKSPACE_ROOT", async () => {
  const dir = await Deno.makeTempDir();
  try {
    assert.deepEqual(await sweepWorkspaces(`${dir}/missing`), []);
    await Deno.writeTextFile(`${dir}/file`, "");
    await assert.rejects(
      sweepWorkspaces(`${dir}/file`),
      /Cannot sweep the workspace root .*WORKSPACE_ROOT/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
