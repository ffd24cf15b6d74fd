/**
 * The benchmark's results as a console table and as a README-ready
 * "Performance" section (markdown), each with the targets they are held to.
 * Both are made from `bench/results.json`'s content, so a partial run
 * (`--only=`) reports the sections it kept from earlier runs too.
 *
 * @module
 */
import type { ConcurrencyResults } from "./concurrency.ts";
import type { ConversationResults, DesignResult } from "./conversations.ts";
import type { Machine, Quiet } from "./machine.ts";
import type { RelayResults } from "./relay.ts";
import { round, type Summary } from "./stats.ts";
import type { TtftResults } from "./ttft.ts";

/** Everything `bench/results.json` may hold. */
export interface Results {
  /** The shape of this file (bumped when a section's shape changes). */
  format?: number;
  date?: string;
  machine?: Machine;
  /** How busy the machine was when each section started. */
  quiet?: Record<string, Quiet & { date: string }>;
  ttft?: TtftResults;
  conversations?: ConversationResults;
  relay?: RelayResults;
  concurrency?: ConcurrencyResults;
}

/** One row: what, the result, the target and whether it was met. */
export type Row = [what: string, result: string, target: string];

const check = (ok: boolean) => (ok ? "met" : "**MISSED**");

/** Live-path cache share over the old design's, as text. */
function shareRatio(c: ConversationResults): string {
  return c.oldWarm.cacheShare > 0
    ? `${round(c.live.cacheShare / c.oldWarm.cacheShare, 1)}×`
    : "∞ (the old design read nothing)";
}

/** Prompt tokens of turns 2+ per conversation: read / written / uncached. */
function tokens(d: DesignResult): string {
  const k = (value: number) => `${round(value / 1000, 1)}k`;
  return `${k(d.promptTokens.cacheRead)} / ${k(d.promptTokens.cacheWrite)} / ${
    k(d.promptTokens.input)
  }`;
}
const p5090 = (s: Summary) => `${s.p50} / ${s.p90} ms`;
const signed = (value: number) => `${value >= 0 ? "+" : ""}${round(value)}`;

/** The rows of every section present in `results`, grouped by section. */
export function rows(results: Results): { section: string; rows: Row[] }[] {
  const groups: { section: string; rows: Row[] }[] = [];
  for (const name of ["ttft", "conversations", "relay", "concurrency"] as const) {
    if (results[name] === undefined) continue;
    try {
      groups.push(...sectionRows({ [name]: results[name] }));
    } catch {
      groups.push({
        section: `${name}: results of an older benchmark version`,
        rows: [[`rerun with --only=${name}`, "", ""]],
      });
    }
  }
  return groups;
}

function sectionRows(results: Results): { section: string; rows: Row[] }[] {
  const groups: { section: string; rows: Row[] }[] = [];
  const t = results.ttft;
  if (t) {
    const speedup = t.cold.p50 / t.warm.p50;
    const overFloor = t.warm.p50 - t.floor.p50;
    const all = t.requests;
    const taken = t.warmPathTaken;
    groups.push({
      section:
        `Time to first token of a first turn (real CLI, fake API answering at once; ${t.requests} requests each), p50 / p90`,
      rows: [
        ["Cold start (no warm process)", p5090(t.cold), ""],
        [
          "Warm pool",
          p5090(t.warm),
          `≥ 5× faster than cold: ${round(speedup, 1)}× ${check(speedup >= 5)}`,
        ],
        [
          "The CLI's own warm floor (pre-started, probed CLI fed directly)",
          p5090(t.floor),
          `warm within 50 ms: ${signed(overFloor)} ms ${check(overFloor <= 50)}`,
        ],
        [
          "Warm pool, `max_tokens: 32000`",
          p5090(t.warmMaxTokens32000),
          `warm path ${taken.maxTokens32000}/${all} ${check(taken.maxTokens32000 === all)}, ` +
          `${signed(t.warmMaxTokens32000.p50 - t.warm.p50)} ms vs no limit`,
        ],
        [
          "  the CLI's floor with `max_tokens: 32000` (its settings line written)",
          p5090(t.floorMaxTokens32000),
          `warm within 50 ms: ${signed(t.warmMaxTokens32000.p50 - t.floorMaxTokens32000.p50)} ms ${
            check(t.warmMaxTokens32000.p50 - t.floorMaxTokens32000.p50 <= 50)
          }`,
        ],
        [
          'Warm pool, `reasoning_effort: "low"`',
          p5090(t.warmEffortLow),
          `warm path ${taken.effortLow}/${all} ${check(taken.effortLow === all)}, ` +
          `${signed(t.warmEffortLow.p50 - t.warm.p50)} ms vs default`,
        ],
      ],
    });
  }
  const c = results.conversations;
  if (c) {
    const later = c.turns - 1;
    const overFloor = c.live.ttftMs.p50 - c.floor.ttftMs.p50;
    groups.push({
      section:
        `Voice conversation: ${c.turns} turns, ~${c.personaTokens}-token persona, cache rule on (1,024-token minimum), ${c.rounds} conversations per design; turns 2–${c.turns}`,
      rows: [
        [
          "Share of prompt tokens read from cache, live path",
          `${c.live.cacheShare} (as the bridge reported it: ${c.live.reportedCacheShare ?? "–"})`,
          `≥ 0.85 ${check(c.live.cacheShare >= 0.85)}`,
        ],
        ["  resume path", `${c.resume.cacheShare}`, ""],
        [
          "  old design (flattened transcript)",
          `${c.oldWarm.cacheShare}`,
          `new/old: ${shareRatio(c)}`,
        ],
        [
          "Prompt tokens per conversation, read / written / uncached: live",
          tokens(c.live),
          "",
        ],
        ["  old design", tokens(c.oldWarm), ""],
        [
          "TTFT, live path",
          p5090(c.live.ttftMs),
          `live path ${c.live.livePath}/${c.rounds * later} ${
            check(c.live.livePath === c.rounds * later)
          }`,
        ],
        [
          "  the CLI's own floor: its live process fed the next user line directly",
          p5090(c.floor.ttftMs),
          `live within 20 ms: ${signed(overFloor)} ms ${check(overFloor <= 20)}`,
        ],
        [
          "TTFT, resume path (`LIVE_SESSIONS=0`: a new CLI resumes a session file)",
          p5090(c.resume.ttftMs),
          `resume path ${c.resume.resumePath}/${c.rounds * later} ${
            check(c.resume.resumePath === c.rounds * later)
          }`,
        ],
        [
          "TTFT, old design, one-shot CLI pre-started (its pool refilled)",
          p5090(c.oldWarm.ttftMs),
          `new/old p50: ${round(c.live.ttftMs.p50 / c.oldWarm.ttftMs.p50, 2)}`,
        ],
        [
          "TTFT, old design, one-shot CLI started cold",
          p5090(c.oldCold.ttftMs),
          `new/old p50: ${round(c.live.ttftMs.p50 / c.oldCold.ttftMs.p50, 3)}`,
        ],
        [
          "Memory per idle live session (CLI and its children), median",
          `${c.live.memory.rssMiB} MiB RSS, ${c.live.memory.pssMiB} MiB PSS (${c.live.memory.sessions} sessions)`,
          "",
        ],
      ],
    });
  }
  const r = results.relay;
  if (r) {
    groups.push({
      section: `Relay with the stand-in CLI: ${
        r.deltas.toLocaleString("en")
      } deltas end to end, medians of ${r.runs} interleaved runs`,
      rows: [
        ["Raw pipe: spawn, write, read and parse every line", `${r.endToEndMs.raw} ms`, ""],
        [
          "Through the bridge: HTTP request, spawn, SSE read to [DONE]",
          `${r.endToEndMs.bridge} ms (${r.ratio}× raw)`,
          `≤ 1.5× ${check(r.ratio <= 1.5)}`,
        ],
        [
          "  diagnostic: the bridge on a plain Deno.serve (no guarded server)",
          `${r.endToEndMs.bridgePlainServe} ms (${r.ratioPlainServe}× raw)`,
          "",
        ],
        ["Bridge CPU per delta (utime + stime over the flood)", `${r.bridgeCpuPerDeltaUs} µs`, ""],
        [
          "  diagnostic: bridge CPU per delta on a plain Deno.serve",
          `${r.bridgePlainServeCpuPerDeltaUs} µs`,
          "",
        ],
        [
          "  CPU per delta, raw pipe: stand-in + reader",
          `${r.cpuPerDeltaUs.raw.cli} + ${r.cpuPerDeltaUs.raw.reader} µs`,
          "",
        ],
        [
          "  CPU per delta, through the bridge: stand-in + bridge + HTTP client",
          `${r.cpuPerDeltaUs.bridge.cli} + ${r.cpuPerDeltaUs.bridge.bridge} + ${r.cpuPerDeltaUs.bridge.reader} µs`,
          "",
        ],
        [
          "Deltas per second, raw / bridge",
          `${r.perSecond.raw.toLocaleString("en")} / ${r.perSecond.bridge.toLocaleString("en")}`,
          "",
        ],
        [
          `Latency the bridge adds per delta (${r.pacedDeltas} deltas ${r.pacedIntervalMs} ms apart), p50 / p99`,
          `${r.addedLatencyMs.p50} / ${r.addedLatencyMs.p99} ms`,
          `< 1 / < 5 ms ${check(r.addedLatencyMs.p50 < 1 && r.addedLatencyMs.p99 < 5)}`,
        ],
      ],
    });
  }
  const k = results.concurrency;
  if (k) {
    groups.push({
      section: `Concurrency with the stand-in CLI (${k.pacing})`,
      rows: [
        [
          `${k.streams} simultaneous streams of ${k.deltasPerStream} deltas`,
          `${k.completed} of ${k.streams} complete in ${(k.totalMs / 1000).toFixed(1)} s`,
          `no error ${check(k.errors === 0)}`,
        ],
        [
          `  the same ${k.streams} stand-ins read directly`,
          `${(k.directTotalMs / 1000).toFixed(1)} s`,
          "",
        ],
        [
          "Bridge memory (RSS): idle / peak during the streams / after",
          `${k.memoryMiB.idle} / ${k.memoryMiB.peak} / ${k.memoryMiB.after} MiB`,
          "",
        ],
      ],
    });
  }
  return groups;
}

/** The table for the console. */
export function table(results: Results): string {
  const groups = rows(results);
  const all = groups.flatMap((group) => group.rows);
  const widths = [0, 1].map((i) => Math.max(0, ...all.map((row) => row[i]!.length)));
  const lines: string[] = [];
  for (const group of groups) {
    lines.push("", group.section);
    for (const row of group.rows) {
      lines.push(`  ${row[0].padEnd(widths[0]!)}  ${row[1].padEnd(widths[1]!)}  ${row[2]}`);
    }
  }
  return lines.join("\n");
}

function machineLine(results: Results): string {
  const m = results.machine;
  if (!m) return "";
  return `${m.cpus}-vCPU ${
    m.cpu ?? "CPU"
  } VM (\`nproc\` = ${m.cpus}), ${m.memoryGiB} GiB RAM, ${m.os}, Deno ${m.deno}${
    m.claude ? `, Claude Code CLI ${m.claude}` : ""
  }`;
}

/** The conversation designs side by side (markdown lines). */
function sideBySide(c: ConversationResults): string[] {
  const designs = [c.live, c.resume, c.oldWarm, c.oldCold];
  const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
  const later = c.rounds * (c.turns - 1);
  const overFloor = c.live.ttftMs.p50 - c.floor.ttftMs.p50;
  return [
    line(["", "Live session", "Resume", "Old: pre-started one-shot", "Old: cold one-shot"]),
    line(["---", "---", "---", "---", "---"]),
    line(["Share of prompt tokens read from cache", ...designs.map((d) => `${d.cacheShare}`)]),
    line(["Prompt tokens per conversation: read / written / uncached", ...designs.map(tokens)]),
    line(["TTFT p50 / p90", ...designs.map((d) => p5090(d.ttftMs))]),
    line([
      "The CLI's own floor, p50 / p90",
      p5090(c.floor.ttftMs),
      "–",
      "the row above (no bridge)",
      "the row above (no bridge)",
    ]),
    line([
      "Memory per idle session",
      `${Math.round(c.live.memory.rssMiB)} MiB RSS, ${Math.round(c.live.memory.pssMiB)} MiB PSS`,
      "–",
      "–",
      "–",
    ]),
    "",
    `Targets: cache share ≥ 0.85 on the live path: ${c.live.cacheShare}, ${
      check(c.live.cacheShare >= 0.85)
    } (the bridge's own usage said ${
      c.live.reportedCacheShare ?? "–"
    }); live TTFT within 20 ms of ` +
    `the CLI's floor: ${signed(overFloor)} ms, ${check(overFloor <= 20)}. The live path served ` +
    `${c.live.livePath} of ${later} later turns, the resume path ${c.resume.resumePath} of ${later}. ` +
    `New (live) / old (pre-started): cache share ${shareRatio(c)}; TTFT p50 ${
      round(c.live.ttftMs.p50 / c.oldWarm.ttftMs.p50, 2)
    } (${round(c.live.ttftMs.p50 / c.oldCold.ttftMs.p50, 3)} against a cold one-shot).`,
  ];
}

/** A README-ready Performance section. */
export function markdown(results: Results): string {
  const out: string[] = [
    "## Performance",
    "",
    "`deno task bench` (outside the test suite) prints a table and writes `bench/results.json`; " +
    "`--only=ttft,conversations,relay,concurrency` runs some sections and keeps the others' earlier " +
    `results. The bridge runs as its own process. Numbers below are from one run (${
      results.date?.slice(0, 10) ?? "?"
    }) on a ${machineLine(results)}.`,
    "",
  ];
  for (const group of rows(results)) {
    out.push(`**${group.section}**`, "");
    if (group.section.startsWith("Voice conversation") && results.conversations) {
      out.push(...sideBySide(results.conversations), "");
      continue;
    }
    out.push("| What | Result | Target |", "| --- | --- | --- |");
    for (const row of group.rows) {
      if (row[0].includes("diagnostic:")) continue;
      out.push(`| ${row.map((cell) => cell.trim().replaceAll("|", "\\|")).join(" | ")} |`);
    }
    out.push("");
  }
  const t = results.ttft;
  const c = results.conversations;
  const r = results.relay;
  const k = results.concurrency;
  out.push("How each number is measured:", "");
  if (t) {
    out.push(
      "- **TTFT** is the time from sending the HTTP request to reading the first content chunk, " +
        "with the real CLI against a fake Anthropic API that answers at once, so it is the " +
        "bridge's and the CLI's own cost, without the model's. Warm requests wait until the pool " +
        "has refilled and the process has idled 200 ms. The floor is a CLI started and probed " +
        "like a pooled one, then fed directly the lines the bridge writes (`initialize` with the " +
        "system prompt, the turn's settings, the user message). The three warm variants and the " +
        "floor run interleaved. A `max_tokens` limit and `reasoning_effort` are per-turn settings " +
        "written to the waiting process, so they keep the warm pool: the API received " +
        `\`max_tokens\` ${
          t.apiSaw.maxTokens32000.map((s) => (s as { max_tokens: number }).max_tokens).join(", ")
        } with thinking ${
          t.apiSaw.maxTokens32000.map((s) => (s as { thinking: string }).thinking).join(", ")
        }, and effort ${
          t.apiSaw.effortLow.map((s) => (s as { effort: string }).effort).join(", ")
        } for the effort variant.`,
    );
  }
  if (c) {
    out.push(
      `- **Conversations** replay ${c.rounds} times per design a ${c.turns}-turn voice-style conversation (a clinic ` +
        `receptionist persona of ~${c.personaTokens} tokens as the system message, one-line ` +
        `user turns and one-sentence answers; the client pauses ${c.thinkMs} ms between turns) ` +
        "with the real CLI against a fake API that applies Anthropic's prefix-cache rule " +
        "(a prefix is read only at a block boundary an earlier request wrote at a " +
        "`cache_control` breakpoint, 1,024 tokens minimum); TTFT percentiles are over all " +
        `${c.rounds * (c.turns - 1)} later turns. The cache share is Σ cache reads / ` +
        "Σ prompt tokens (input + cache read + cache write) over every API call of turns 2–" +
        `${c.turns}, as the fake computed it; the bridge's own usage reports the same share. ` +
        "The floor is one CLI driven directly with the bridge's protocol: after a turn's " +
        "`result`, the next turn's settings and user line are written to it, timed to the first " +
        "text delta. The resume path is the same conversation with `LIVE_SESSIONS=0`: every turn " +
        "is a new CLI resuming a session file (what a barged-in or edited history, another " +
        "replica or a restart gets). The old design is re-implemented in `bench/old_design.ts` " +
        "(the whole history flattened into one `<message role=…>` transcript after a fixed " +
        "preamble, the persona a line of it, a one-shot CLI per turn) and driven directly, " +
        "without its bridge, so its numbers leave out the old bridge's own overhead. Memory per " +
        "live session is the RSS (and PSS, which splits shared pages) of each idle live CLI " +
        "process and its children, one second after its conversation's last turn.",
    );
  }
  if (r) {
    out.push(
      `- **Relay** runs the stand-in CLI streaming ${r.deltas.toLocaleString("en")} deltas: ` +
        "through the bridge from the HTTP request (a CLI spawned for it) to the end of the SSE " +
        "body, and from a raw pipe that spawns the same stand-in with the same argv, writes the " +
        "same stdin, and reads and `JSON.parse`s every line up to the `result`. " +
        `${r.runs} rounds after 2 warm-up rounds, interleaved with the order rotating; medians. ` +
        "CPU per delta is the bridge process's utime + stime (`/proc/<pid>/stat`) over a run " +
        "divided by the deltas. The added latency compares arrival minus send stamp of each of " +
        `${r.pacedDeltas} deltas sent ${r.pacedIntervalMs} ms apart, bridge vs raw pipe.`,
    );
  }
  if (k) {
    out.push(
      `- **Concurrency** starts ${k.streams} streams at once against one bridge ` +
        `(\`MAX_CONCURRENT=${k.streams}\`); its time is dominated by starting ${k.streams} ` +
        "stand-in processes on two cores, as the direct run shows. Each real CLI process needs " +
        `a further ${c ? `~${Math.round(c.live.memory.rssMiB)} MiB` : "200–300 MB"} ` +
        "(not counted in the bridge's memory).",
    );
  }
  out.push(
    "- All of it shares two cores with the benchmark's own client, so figures vary from run " +
      "to run by a few milliseconds (TTFT) and by 10–20 % (relay).",
    "",
  );
  return out.join("\n");
}
