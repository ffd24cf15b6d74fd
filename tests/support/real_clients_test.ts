/**
 * The real-client runner leaves nothing behind: a background process a
 * client started is killed when the client exits, and a client that hangs is
 * killed at its timeout, its output kept in the error.
 */
import assert from "node:assert/strict";
import { isRunning } from "./processes.ts";
import { clientSandbox, runClient } from "./real_clients.ts";

Deno.test("runClient: what the client left running in its group is killed when it exits", async () => {
  await using box = await clientSandbox();
  const run = await runClient("sh", ["-c", "sleep 300 & echo $!"], {
    cwd: box.work,
    env: { HOME: box.home },
  });
  assert.equal(run.code, 0);
  const sleeper = Number(run.stdout.trim());
  assert.ok(sleeper > 0, run.stdout);
  assert.equal(isRunning(sleeper), false);
});

Deno.test("runClient: a client that hangs is killed at the timeout, with its output in the error", async () => {
  await using box = await clientSandbox();
  const started = performance.now();
  await assert.rejects(
    runClient("sh", ["-c", "echo waiting; sleep 300"], {
      cwd: box.work,
      env: { HOME: box.home },
      timeoutMs: 300,
    }),
    /did not finish in 300 ms and was killed\.\nstdout: waiting/,
  );
  assert.ok(performance.now() - started < 5000);
});

Deno.test("runClient: the client gets stdin null, its own HOME and no inherited environment", async () => {
  await using box = await clientSandbox();
  const run = await runClient("sh", ["-c", 'cat; echo "home=$HOME proxy=${HTTPS_PROXY-unset}"'], {
    cwd: box.work,
    env: { HOME: box.home },
  });
  assert.equal(run.stdout, `home=${box.home} proxy=unset\n`);
});
