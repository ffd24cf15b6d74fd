/**
 * `deno task bench`: the bridge's performance, measured end to end, side by
 * side with the baselines it is held to, in one run.
 *
 * 1. **ttft** ({@link ./ttft.ts}) — time to first token of a first turn with
 *    the real CLI: cold, warm, warm with `max_tokens: 32000` and with
 *    `reasoning_effort: "low"`, and the CLI's own warm floor.
 * 2. **conversations** ({@link ./conversations.ts}) — a 10-turn voice
 *    conversation with a ~6k-token persona: prompt-cache share, TTFT on the
 *    live and resume paths against the CLI's own live floor, memory per live
 *    session, and the same for the previous design
 *    ({@link ./old_design.ts}).
 * 3. **relay** ({@link ./relay.ts}) — the stand-in CLI's 20,000 deltas end to
 *    end through the bridge vs a raw pipe, CPU per delta, added latency.
 * 4. **concurrency** ({@link ./concurrency.ts}) — simultaneous streams and
 *    the bridge's memory.
 *
 * The bridge runs as a separate process ({@link ./serve.ts}). Each section
 * first waits (up to `--quiet-wait-s`, default 60) for the CPUs to be
 * mostly idle and records how busy they were, is bounded in time
 * (`--section-timeout-s`, default 900) and cleans up its processes and
 * directories. Prints a table, writes `bench/results.json` (a partial run
 * replaces only its own sections there) and a README-ready Performance
 * section to `--markdown=PATH` (default `/tmp/design/perf.md`).
 *
 * Options: `--only=ttft,conversations,relay,concurrency`, `--requests=N`
 * (TTFT samples per variant, default 20), `--rounds=N` (conversations per
 * design, default 3), `--persona-tokens=N` (default 6000), `--relay-runs=N`
 * (default 9, at least 7), `--streams=N` (default 100). The real CLI is
 * `CLAUDE_E2E_BIN`, else `claude` on `PATH` (the pinned version).
 *
 * @module
 */
import { loadAgent } from "../src/claude/agents.ts";
import { CLAUDE_CODE_VERSION, realClaude } from "../tests/support/real_cli.ts";
import { running, stopAll } from "./cleanup.ts";
import { concurrencySection } from "./concurrency.ts";
import { conversationSection } from "./conversations.ts";
import { machine, waitForQuiet } from "./machine.ts";
import { relaySection } from "./relay.ts";
import { markdown, type Results, table } from "./report.ts";
import { ttftSection } from "./ttft.ts";

const AGENTS_DIR = new URL("../agents", import.meta.url).pathname;
const RESULTS = new URL("./results.json", import.meta.url).pathname;
const MODEL = "sonnet";
const SECTIONS = ["ttft", "conversations", "relay", "concurrency"] as const;
type Section = typeof SECTIONS[number];

const options: Record<string, string> = Object.fromEntries(
  Deno.args.map((arg) => {
    const [key, ...value] = arg.replace(/^--/, "").split("=");
    return [key!, value.join("=")];
  }),
);
const only = options.only ? options.only.split(",") : undefined;
const unknown = only?.filter((name) => !(SECTIONS as readonly string[]).includes(name));
if (unknown?.length) {
  console.error(`unknown section(s) ${unknown.join(", ")}; choose from ${SECTIONS.join(", ")}`);
  Deno.exit(2);
}
const number = (name: string, fallback: number) => {
  const value = Number(options[name] ?? fallback);
  if (!Number.isInteger(value) || value < 1) {
    console.error(`--${name} must be a positive integer`);
    Deno.exit(2);
  }
  return value;
};
const wanted = (section: Section) => !only || only.includes(section);
const requests = number("requests", 20);
const rounds = number("rounds", 3);
const personaTokens = number("persona-tokens", 6000);
const relayRuns = number("relay-runs", 9);
const streams = number("streams", 100);
const quietWaitMs = number("quiet-wait-s", 60) * 1000;
const sectionTimeoutMs = number("section-timeout-s", 900) * 1000;
const markdownPath = options.markdown || "/tmp/design/perf.md";

const agent = await loadAgent(AGENTS_DIR, "conversational");
const log = (message: string) => console.error(message);

/** The shape of `results.json` this benchmark writes; sections of other shapes are dropped. */
const FORMAT = 3;

/** Earlier results: a partial run (`--only`) replaces just its own sections. */
async function previous(): Promise<Results> {
  try {
    const earlier: Results = JSON.parse(await Deno.readTextFile(RESULTS));
    return earlier.format === FORMAT ? earlier : {};
  } catch {
    return {};
  }
}

/** Runs `body`, failing it after the section timeout. */
async function bounded<T>(name: string, body: () => Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new Error(
            `the ${name} section took over ${
              sectionTimeoutMs / 1000
            } s; raise --section-timeout-s or look for a hung process`,
          ),
        ),
      sectionTimeoutMs,
    );
  });
  try {
    return await Promise.race([body(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

const results: Results = {
  ...(await previous()),
  format: FORMAT,
  date: new Date().toISOString(),
};
results.machine = { ...(await machine()), claude: CLAUDE_CODE_VERSION };
results.quiet ??= {};
const failures: string[] = [];
for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
  Deno.addSignalListener(signal, async () => {
    log(`${signal}: stopping the benchmark's processes`);
    await stopAll();
    Deno.exit(code);
  });
}
const needsCli = wanted("ttft") || wanted("conversations");
const bin = needsCli ? await realClaude() : "";

const sections: Record<Section, () => Promise<unknown>> = {
  ttft: () => ttftSection({ bin, agent, model: MODEL, requests, log }),
  conversations: () =>
    conversationSection({ bin, agent, model: MODEL, rounds, personaTokens, log }),
  relay: () => relaySection({ agent, model: MODEL, runs: relayRuns, log }),
  concurrency: () => concurrencySection({ agent, model: MODEL, streams, log }),
};

for (const name of SECTIONS) {
  if (!wanted(name)) continue;
  const quiet = await waitForQuiet(0.15, quietWaitMs);
  results.quiet[name] = { ...quiet, date: new Date().toISOString() };
  log(
    `${name}… (CPUs ${Math.round(quiet.busy * 100)} % busy${
      quiet.quiet ? "" : ", still busy after waiting: expect noisy numbers"
    })`,
  );
  const started = performance.now();
  try {
    // deno-lint-ignore no-explicit-any
    (results as any)[name] = await bounded(name, sections[name]);
    log(`${name} done in ${Math.round((performance.now() - started) / 1000)} s`);
  } catch (error) {
    failures.push(name);
    log(`${name} FAILED: ${error instanceof Error ? error.stack ?? error.message : error}`);
  }
  if (running() > 0) {
    log(`  stopping ${running()} process(es) the section left running`);
    await stopAll();
  }
}

await Deno.writeTextFile(RESULTS, JSON.stringify(results, null, 2) + "\n");
try {
  await Deno.writeTextFile(markdownPath, markdown(results));
  const m = results.machine;
  console.log(`\n${m.cpus} × ${m.cpu}, ${m.memoryGiB} GiB, Deno ${m.deno}, CLI ${m.claude}`);
  console.log(table(results));
  console.log(`\nwritten: ${RESULTS} and ${markdownPath}`);
} catch (error) {
  log(
    `could not report (results are in ${RESULTS}): ${error instanceof Error ? error.stack : error}`,
  );
  Deno.exit(1);
}
if (failures.length > 0) {
  console.error(`\nfailed sections: ${failures.join(", ")} (earlier results kept for them)`);
  Deno.exit(1);
}
// Sections leave nothing running; exit now rather than wait on a stray timer.
Deno.exit(0);
