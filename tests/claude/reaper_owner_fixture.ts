/**
 * A stand-in bridge for the reaper tests, run as a subprocess with the
 * `start` task's narrow `--allow-run`: it starts a {@linkcode ProcessGroupReaper};
 * when the reaper is available it spawns one detached `sh` group (a leader
 * with two `sleep` grandchildren that append their pids to `Deno.args[0]`)
 * and watches it (waiting until the reaper has the command). It writes `{available, reason, watched, reaper, leader}` as
 * JSON to `Deno.args[1]`, then waits to be killed (or exits, when the reaper
 * is unavailable).
 *
 * @module
 */
import { ProcessGroupReaper } from "../../src/claude/reaper.ts";

const [pidFile, reportFile] = Deno.args;
if (!pidFile || !reportFile) throw new Error("usage: reaper_owner_fixture.ts PID_FILE REPORT_FILE");

const reaper = ProcessGroupReaper.start();
let leader: number | undefined;
if (reaper.available) {
  leader = new Deno.Command("sh", {
    args: ["-c", 'sleep 300 & echo $! >> "$1"; sleep 300 & echo $! >> "$1"; wait', "sh", pidFile],
    stdin: "null",
    stdout: "null",
    stderr: "null",
    detached: true,
  }).spawn().pid;
}
const watched = reaper.watch(leader ?? Deno.pid);
await reaper.flush();
await Deno.writeTextFile(
  reportFile,
  JSON.stringify({
    available: reaper.available,
    reason: reaper.unavailableReason,
    watched,
    reaper: reaper.pid,
    leader,
  }),
);
if (reaper.available) setInterval(() => {}, 1 << 30);
