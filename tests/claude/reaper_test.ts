import assert from "node:assert/strict";
import { ProcessGroupReaper, REAPER_SCRIPT } from "../../src/claude/reaper.ts";
import { isRunning, waitFor, waitGone } from "../support/processes.ts";

const FIXTURE = new URL("./reaper_owner_fixture.ts", import.meta.url).pathname;
const encoder = new TextEncoder();

/** The process group of `pid`, from /proc (field 5 of its stat line). */
function processGroupOf(pid: number): number {
  const text = Deno.readTextFileSync(`/proc/${pid}/stat`);
  return Number(text.slice(text.lastIndexOf(")") + 2).split(" ")[2]);
}

/** Pids listed one per line in `file` (written by the `sh` group leaders below). */
async function pidsIn(file: string): Promise<number[]> {
  const text = await Deno.readTextFile(file).catch(() => "");
  return text.split("\n").filter((line) => line !== "").map(Number);
}

/** A detached `sh` group: the leader (a stand-in CLI) and what it started. */
interface Group {
  leader: Deno.ChildProcess;
  /** The leader's pid followed by its grandchildren's. */
  pids: number[];
}

/**
 * Spawns `sh -c script` detached (its own group, as the bridge spawns the
 * CLI); `script` gets a file as `$1` and appends `count` grandchild pids to it.
 */
async function startGroup(dir: string, script: string, count: number): Promise<Group> {
  const file = await Deno.makeTempFile({ dir });
  const leader = new Deno.Command("sh", {
    args: ["-c", script, "sh", file],
    stdin: "null",
    stdout: "null",
    stderr: "null",
    detached: true,
  }).spawn();
  await waitFor(
    async () => (await pidsIn(file)).length >= count,
    2000,
    "grandchildren not started",
  );
  return { leader, pids: [leader.pid, ...await pidsIn(file)] };
}

/** Two `sleep` grandchildren under a waiting `sh`, like `rg` under the CLI. */
const TWO_SLEEPS = 'sleep 300 & echo $! >> "$1"; sleep 300 & echo $! >> "$1"; wait';

/** Kills whatever a failed test left in `groups` (the tests run with --allow-all). */
function cleanUp(groups: Group[]): Promise<unknown> {
  for (const group of groups) {
    try {
      Deno.kill(-group.leader.pid, "SIGKILL");
    } catch {
      // Already gone.
    }
  }
  return Promise.all(groups.map((group) => group.leader.status));
}

Deno.test("a signal reaches the whole group: the leader and its grandchildren", async () => {
  const dir = await Deno.makeTempDir();
  const groups: Group[] = [];
  await using reaper = ProcessGroupReaper.start();
  try {
    assert.ok(reaper.available, reaper.unavailableReason ?? "");
    // The reaper leads its own group: a Ctrl-C to the bridge's group cannot reach it.
    assert.equal(processGroupOf(reaper.pid!), reaper.pid);
    const group = await startGroup(dir, TWO_SLEEPS, 2);
    groups.push(group);
    assert.ok(reaper.watch(group.leader.pid));
    assert.ok(group.pids.every(isRunning));
    assert.ok(reaper.signal(group.leader.pid, "SIGTERM"));
    await waitGone(group.pids);
    assert.equal((await group.leader.status).signal, "SIGTERM");
    reaper.forget(group.leader.pid);
    assert.equal(reaper.signal(group.leader.pid, "SIGKILL"), false, "a forgotten group");
  } finally {
    await cleanUp(groups);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("what an exited leader left behind (parent 1, like rg after an abort) is killed", async () => {
  const dir = await Deno.makeTempDir();
  const groups: Group[] = [];
  await using reaper = ProcessGroupReaper.start();
  try {
    const group = await startGroup(dir, 'sleep 300 & echo $! >> "$1"', 1);
    groups.push(group);
    reaper.watch(group.leader.pid);
    assert.equal((await group.leader.status).code, 0);
    const orphan = group.pids[1]!;
    assert.ok(isRunning(orphan));
    assert.ok(reaper.signal(group.leader.pid, "SIGKILL"));
    await waitGone([orphan]);
    reaper.forget(group.leader.pid);
  } finally {
    await cleanUp(groups);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("closing the reaper's stdin kills every watched group within 3 s, forgotten ones spared", async () => {
  const dir = await Deno.makeTempDir();
  const groups: Group[] = [];
  const reaper = ProcessGroupReaper.start();
  try {
    const plain = await startGroup(dir, TWO_SLEEPS, 2);
    // A group that ignores SIGTERM (inherited by its sleeps) needs the SIGKILL a second later.
    const stubborn = await startGroup(dir, `trap '' TERM; ${TWO_SLEEPS}`, 2);
    const forgotten = await startGroup(dir, TWO_SLEEPS, 2);
    groups.push(plain, stubborn, forgotten);
    for (const group of groups) assert.ok(reaper.watch(group.leader.pid));
    reaper.forget(forgotten.leader.pid);
    const reaperPid = reaper.pid!;
    await reaper.close();
    await waitGone([...plain.pids, ...stubborn.pids, reaperPid], 3000);
    assert.equal((await stubborn.leader.status).signal, "SIGKILL");
    assert.ok(forgotten.pids.every(isRunning), "a forgotten group is left alone");
    assert.equal(reaper.available, false);
    assert.equal(reaper.watch(forgotten.leader.pid), false, "a closed reaper takes no commands");
  } finally {
    await reaper.close();
    await cleanUp(groups);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a SIGKILLed bridge (with only --allow-run=claude,sh) takes its groups along within 3 s", async () => {
  const dir = await Deno.makeTempDir();
  const pidFile = `${dir}/pids`;
  const report = `${dir}/report.json`;
  const owner = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-run=claude,sh", `--allow-write=${dir}`, FIXTURE, pidFile, report],
    stdin: "null",
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  let pids: number[] = [];
  try {
    await waitFor(
      async () =>
        (await pidsIn(pidFile)).length >= 2 && (await Deno.stat(report).catch(() => null)) !== null,
      10_000,
      "the owner did not start its group",
    );
    const started = JSON.parse(await Deno.readTextFile(report));
    assert.equal(started.available, true, started.reason);
    assert.equal(started.watched, true);
    pids = [started.leader, started.reaper, ...await pidsIn(pidFile)];
    assert.ok(pids.every(isRunning));
    owner.kill("SIGKILL");
    assert.equal((await owner.status).signal, "SIGKILL");
    await waitGone(pids, 3000);
  } finally {
    try {
      owner.kill("SIGKILL");
    } catch {
      // Already gone.
    }
    await owner.status;
    for (const pid of pids.filter(isRunning)) Deno.kill(pid, "SIGKILL");
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("without permission to run sh the reaper is unavailable, and nothing throws", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const report = `${dir}/report.json`;
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-run=claude", `--allow-write=${dir}`, FIXTURE, `${dir}/pids`, report],
      stdin: "null",
    }).output();
    assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
    const result = JSON.parse(await Deno.readTextFile(report));
    assert.equal(result.available, false);
    assert.equal(result.watched, false);
    assert.match(result.reason, /--allow-run=.*sh/);

    await using missing = ProcessGroupReaper.start({ shell: `${dir}/no-such-sh` });
    assert.equal(missing.available, false);
    assert.match(missing.unavailableReason!, /no-such-sh" was not found/);
    assert.equal(missing.watch(Deno.pid), false);
    assert.equal(missing.signal(Deno.pid, "SIGTERM"), false);
    missing.forget(Deno.pid);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("pids that cannot be process groups are refused before reaching the shell", async () => {
  await using reaper = ProcessGroupReaper.start();
  for (const pgid of [0, 1, -5, 1.5, NaN, Infinity, 10_000_000]) {
    assert.equal(reaper.watch(pgid), false, `watch(${pgid})`);
  }
  assert.equal(reaper.signal(4242, "SIGKILL"), false, "an unwatched group");
  assert.ok(reaper.available);
});

Deno.test("the reaper script ignores bad lines and signals only groups that were added", async () => {
  const dir = await Deno.makeTempDir();
  const groups: Group[] = [];
  const shell = new Deno.Command("sh", {
    args: ["-c", REAPER_SCRIPT],
    stdin: "piped",
    stdout: "null",
    stderr: "piped",
    detached: true,
  }).spawn();
  const stdin = shell.stdin.getWriter();
  const send = (lines: string[]) => stdin.write(encoder.encode(lines.join("\n") + "\n"));
  try {
    const victim = await startGroup(dir, TWO_SLEEPS, 2);
    const sentinel = await startGroup(dir, TWO_SLEEPS, 2);
    groups.push(victim, sentinel);
    const v = victim.leader.pid;
    await send([
      "",
      "add",
      "add abc",
      `add ${v} extra`,
      `add 0${v}`,
      `add -${v}`,
      `add +${v}`,
      `add ${v}\r`,
      `add ${v}.0`,
      "add 12345678",
      "add 0",
      "KILL 0",
      `TERM ${v}`,
      `KILL ${v}`,
      `kill ${v}`,
      `ADD ${v}`,
      `term  ${v}`,
      `TERM ${v}; kill -9 -1`,
      `$(kill ${v})`,
    ]);
    // Lines are handled in order: once the sentinel is gone, every line above was read.
    await send([`add ${sentinel.leader.pid}`, `KILL ${sentinel.leader.pid}`]);
    await waitGone(sentinel.pids);
    assert.ok(victim.pids.every(isRunning), "the victim was signalled by a bad line");
    assert.ok(isRunning(shell.pid), "a bad line ended the reaper");
    await send([`add ${v}`, `del ${v}`, `KILL ${v}`]);
    await send([`add ${v}`, `add ${v}`, `TERM ${v}`]);
    await waitGone(victim.pids);
    assert.equal((await victim.leader.status).signal, "SIGTERM", "KILL after del was obeyed");
    await stdin.close();
    assert.equal((await shell.status).code, 0);
    const stderr = new TextDecoder().decode(await new Response(shell.stderr).arrayBuffer());
    assert.equal(stderr, "", "the script wrote errors");
  } finally {
    await stdin.close().catch(() => {});
    await shell.status;
    await cleanUp(groups);
    await Deno.remove(dir, { recursive: true });
  }
});
