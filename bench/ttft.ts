/**
 * Time to first token of a first turn, with the real Claude Code CLI against
 * a fake Anthropic API that answers at once (so it is the bridge's and the
 * CLI's own cost, not the model's): HTTP request sent → first content chunk
 * read.
 *
 * - **cold**: no warm pool, a CLI started for the request;
 * - **warm**: a pooled process (the pool refilled and the process idle
 *   for a moment before each request), without a limit, with
 *   `max_tokens: 32000` (opencode sends it on every call) and with
 *   `reasoning_effort: "low"` — interleaved, each checked to have taken the
 *   warm path and to have reached the API with its limit and effort;
 * - **floor**: the CLI's own warm floor, a pre-started and probed CLI fed the
 *   bridge's `initialize`, settings and user line directly (no bridge), timed
 *   from the write to the first text delta; interleaved with the warm runs.
 *   Default settings write no settings line (as in the bridge); the floor of
 *   `max_tokens: 32000` writes its `apply_flag_settings` line.
 *
 * @module
 */
import type { Agent } from "../src/claude/agents.ts";
import { systemPromptOf } from "../src/engine/engine.ts";
import { startFakeAnthropic } from "../tests/support/fake_anthropic.ts";
import { fakeApiEnv } from "../tests/support/real_cli.ts";
import { BenchBridge } from "./bridge_process.ts";
import { FloorCli } from "./floor_cli.ts";
import { assertComplete, streamChat } from "./sse_client.ts";
import { sleep, type Summary, summary } from "./stats.ts";

/** How the TTFT section runs. */
export interface TtftOptions {
  /** The real CLI. */
  bin: string;
  agent: Agent;
  model: string;
  /** Samples per variant. */
  requests: number;
  /** Progress lines go here. */
  log: (message: string) => void;
}

/** What the TTFT section measured (ms). */
export interface TtftResults {
  requests: number;
  cold: Summary;
  warm: Summary;
  warmMaxTokens32000: Summary;
  warmEffortLow: Summary;
  floor: Summary;
  /** The floor of a first turn with `max_tokens: 32000` (its settings line written). */
  floorMaxTokens32000: Summary;
  /** Requests of each warm variant that the engine served from the pool. */
  warmPathTaken: { plain: number; maxTokens32000: number; effortLow: number };
  /** What the API received from the warm variants (checks that each setting applied). */
  apiSaw: { plain: unknown[]; maxTokens32000: unknown[]; effortLow: unknown[] };
}

/** Milliseconds a warm process idles before its request (in the warm and floor variants alike). */
const SETTLE_MS = 200;
const PROMPT = "Say ok.";

const variants = {
  plain: {},
  maxTokens32000: { max_tokens: 32000 },
  effortLow: { reasoning_effort: "low" },
} as const;
type Variant = keyof typeof variants;

/** Runs the TTFT section; see the module documentation. */
export async function ttftSection(options: TtftOptions): Promise<TtftResults> {
  const { bin, agent, model, requests, log } = options;
  await using api = startFakeAnthropic();
  const home = await Deno.makeTempDir({ prefix: "bridge-bench-home-" });
  const root = await Deno.makeTempDir({ prefix: "bridge-bench-root-" });
  try {
    const cliEnv = fakeApiEnv(api.url, home);
    const bridgeEnv = { ...cliEnv, CLAUDE_BIN: bin, WORKSPACE_ROOT: root, LIVE_SESSIONS: "0" };
    const chat = (extra: Record<string, unknown> = {}) => ({
      model,
      messages: [{ role: "user", content: PROMPT }],
      ...extra,
    });

    log(`  cold (${requests} requests)`);
    const cold: number[] = [];
    {
      await using bridge = await BenchBridge.launch({ ...bridgeEnv, WARM_POOL: "off" });
      assertComplete(await streamChat(bridge.url, chat()), "cold warm-up request");
      for (let i = 0; i < requests; i++) {
        await sleep(SETTLE_MS);
        cold.push(assertComplete(await streamChat(bridge.url, chat()), "cold request").ttftMs);
      }
    }

    log(`  warm × 3 variants and the CLI's floor, interleaved (${requests} rounds)`);
    const warm: Record<Variant, number[]> = { plain: [], maxTokens32000: [], effortLow: [] };
    const taken: Record<Variant, number> = { plain: 0, maxTokens32000: 0, effortLow: 0 };
    const saw: Record<Variant, Set<string>> = {
      plain: new Set(),
      maxTokens32000: new Set(),
      effortLow: new Set(),
    };
    const floor: number[] = [];
    const floorMaxTokens32000: number[] = [];
    await using bridge = await BenchBridge.launch({ ...bridgeEnv, WARM_POOL: `${model}=1` });
    await bridge.poolReady(model);
    assertComplete(await streamChat(bridge.url, chat()), "warm warm-up request");
    const systemPrompt = systemPromptOf(agent, []);
    for (let i = 0; i < requests; i++) {
      for (const variant of Object.keys(variants) as Variant[]) {
        await bridge.poolReady(model);
        await sleep(SETTLE_MS);
        const before = (await bridge.state()).paths.warm;
        const posts = api.posts().length;
        const outcome = await streamChat(bridge.url, chat(variants[variant]));
        warm[variant].push(assertComplete(outcome, `warm request (${variant})`).ttftMs);
        if ((await bridge.state()).paths.warm > before) taken[variant]++;
        for (const post of api.posts().slice(posts)) {
          const body = post.body ?? {};
          saw[variant].add(
            JSON.stringify({
              max_tokens: body.max_tokens,
              effort: body.output_config?.effort ?? null,
              thinking: body.thinking?.type ?? null,
            }),
          );
        }
      }
      // The floor: a process of the same argv, pre-started and probed like a pooled one.
      for (const samples of [floor, floorMaxTokens32000]) {
        await using cli = FloorCli.start(bin, agent, model, cliEnv);
        await cli.probe();
        await bridge.poolReady(model);
        await sleep(SETTLE_MS);
        const settings = samples === floor ? undefined : { thinking: true, maxOutputTokens: 32000 };
        samples.push((await cli.turn(PROMPT, { systemPrompt, settings })).ttftMs);
      }
    }
    const seen = (variant: Variant) => [...saw[variant]].map((text) => JSON.parse(text));
    return {
      requests,
      cold: summary(cold),
      warm: summary(warm.plain),
      warmMaxTokens32000: summary(warm.maxTokens32000),
      warmEffortLow: summary(warm.effortLow),
      floor: summary(floor),
      floorMaxTokens32000: summary(floorMaxTokens32000),
      warmPathTaken: taken,
      apiSaw: {
        plain: seen("plain"),
        maxTokens32000: seen("maxTokens32000"),
        effortLow: seen("effortLow"),
      },
    };
  } finally {
    await Deno.remove(home, { recursive: true }).catch(() => {});
    await Deno.remove(root, { recursive: true }).catch(() => {});
  }
}
