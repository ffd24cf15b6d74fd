/**
 * Conversations (issue 11): a 10-turn voice-style conversation with a
 * ~6,000-token persona as the client's system message ({@link ./voice_script.ts}),
 * replayed with the real Claude Code CLI against a fake Anthropic API that
 * applies Anthropic's prefix-cache rule (1,024 tokens minimum), in four
 * ways, interleaved round by round:
 *
 * - **live** — through the bridge, the conversation's CLI process kept alive
 *   between turns (the live path on turns 2+);
 * - **resume** — through the bridge with `LIVE_SESSIONS=0`: every later turn
 *   starts a CLI that resumes the history from a session file;
 * - **floor** — the CLI's own floor for a live turn: one CLI driven directly
 *   with the bridge's protocol, each later user line written to the process
 *   that finished the turn before (first text delta after the write);
 * - **old** — the previous design ({@link ./old_design.ts}): the history
 *   flattened into one user message, a one-shot CLI per turn, driven
 *   directly (no bridge, so the old bridge's own overhead is not counted):
 *   once with each turn's process pre-started and initialized (what the old
 *   warm pool gave when it had refilled), once with turns 2+ started cold.
 *
 * Per design: the share of prompt tokens read from the cache on turns 2–10
 * (Σ cache_read / Σ (input + cache_read + cache_write), as the fake API
 * computed it for every API call of those turns), TTFT on turns 2–10, and
 * for the live path the memory of each idle live CLI process (with its
 * children) after its conversation. Each round uses its own persona (a
 * numbered first line), so no round reads another's cache.
 *
 * Between turns the client pauses (a voice user speaks) until the previous
 * turn's processes are gone, then {@linkcode THINK_MS}.
 *
 * @module
 */
import type { Agent } from "../src/claude/agents.ts";
import { systemPromptOf } from "../src/engine/engine.ts";
import {
  type FakeAnthropic,
  type PromptUsage,
  startFakeAnthropic,
} from "../tests/support/fake_anthropic.ts";
import { fakeApiEnv } from "../tests/support/real_cli.ts";
import { BenchBridge } from "./bridge_process.ts";
import { DirectCli } from "./direct_cli.ts";
import { FloorCli, isResult, isTextDelta } from "./floor_cli.ts";
import {
  OLD_ENV,
  OLD_INITIALIZE,
  oldArgs,
  oldFlatten,
  type OldMessage,
  oldUserLine,
} from "./old_design.ts";
import { treeMemory } from "./procfs.ts";
import { assertComplete, type ChatUsage, streamChat } from "./sse_client.ts";
import { median, round, sleep, type Summary, summary } from "./stats.ts";
import { chatMessages, persona, USER_LINES, voiceReplies } from "./voice_script.ts";

/** Milliseconds the client pauses before each turn, once the previous turn's processes are gone. */
export const THINK_MS = 300;
const TURNS = USER_LINES.length;

/** How the conversation section runs. */
export interface ConversationOptions {
  bin: string;
  agent: Agent;
  model: string;
  /** Conversations per design. */
  rounds: number;
  /** Persona length in (estimated) tokens. */
  personaTokens: number;
  log: (message: string) => void;
}

/** One design's figures over turns 2–10 of every round. */
export interface DesignResult {
  /** Σ cache_read / Σ prompt tokens over turns 2–10 (the fake API's accounting). */
  cacheShare: number;
  /** The same share from the usage the bridge reported to the client (bridge designs only). */
  reportedCacheShare?: number;
  /** Prompt tokens of turns 2–10 per round (mean), and how they split. */
  promptTokens: { input: number; cacheRead: number; cacheWrite: number; total: number };
  /** API calls per turn (mean). */
  apiCallsPerTurn: number;
  /** TTFT on turns 2–10, ms. */
  ttftMs: Summary;
  /** TTFT of turn 1, ms. */
  firstTurnMs: Summary;
  /** Cache share of each turn 2–10 (over the rounds). */
  perTurnCacheShare: number[];
}

/** What the conversation section measured. */
export interface ConversationResults {
  rounds: number;
  turns: number;
  personaTokens: number;
  thinkMs: number;
  live: DesignResult & {
    /** Requests of turns 2–10 the engine served live (of `rounds × 9`). */
    livePath: number;
    /** Idle live CLI processes with their children, after their conversation (MiB, medians). */
    memory: { sessions: number; rssMiB: number; pssMiB: number; processes: number };
  };
  resume: DesignResult & { resumePath: number };
  floor: DesignResult;
  oldWarm: DesignResult;
  oldCold: DesignResult;
}

/** Usage and TTFT of one turn. */
interface TurnRecord {
  ttftMs: number;
  usage: PromptUsage[];
  reported?: ChatUsage;
}

/** Collects the fake API's usage for the calls one turn made. */
function usageSince(api: FakeAnthropic, before: number): PromptUsage[] {
  return api.posts().slice(before).flatMap((post) => post.usage ? [post.usage] : []);
}

/** Folds rounds of turn records into a {@linkcode DesignResult}. */
function designResult(rounds: TurnRecord[][]): DesignResult {
  const later = rounds.flatMap((turns) => turns.slice(1));
  const sum = (records: TurnRecord[], field: keyof PromptUsage) =>
    records.reduce((total, record) => total + record.usage.reduce((s, u) => s + u[field], 0), 0);
  const read = sum(later, "cache_read_input_tokens");
  const total = sum(later, "prompt_tokens");
  const reported = later.every((record) => record.reported)
    ? later.reduce(
      (acc, record) => ({
        cached: acc.cached + (record.reported!.prompt_tokens_details?.cached_tokens ?? 0),
        prompt: acc.prompt + record.reported!.prompt_tokens,
      }),
      { cached: 0, prompt: 0 },
    )
    : undefined;
  const perTurn = Array.from({ length: TURNS - 1 }, (_, i) => {
    const records = rounds.map((turns) => turns[i + 1]!);
    return round(
      sum(records, "cache_read_input_tokens") / Math.max(1, sum(records, "prompt_tokens")),
      3,
    );
  });
  const n = rounds.length;
  return {
    cacheShare: round(read / Math.max(1, total), 3),
    ...(reported ? { reportedCacheShare: round(reported.cached / reported.prompt, 3) } : {}),
    promptTokens: {
      input: Math.round(sum(later, "input_tokens") / n),
      cacheRead: Math.round(read / n),
      cacheWrite: Math.round(sum(later, "cache_creation_input_tokens") / n),
      total: Math.round(total / n),
    },
    apiCallsPerTurn: round(
      rounds.flat().reduce((s, record) => s + record.usage.length, 0) / rounds.flat().length,
      2,
    ),
    ttftMs: summary(later.map((record) => record.ttftMs)),
    firstTurnMs: summary(rounds.map((turns) => turns[0]!.ttftMs)),
    perTurnCacheShare: perTurn,
  };
}

/** Waits (up to `ms`) until the bridge runs no CLI process but the `keep` ones. */
async function bridgeSettled(bridge: BenchBridge, keep: number, ms = 10_000): Promise<void> {
  const deadline = performance.now() + ms;
  while ((await bridge.cliPids()).length > keep && performance.now() < deadline) await sleep(20);
}

/** One conversation through the bridge. */
async function bridgeConversation(
  bridge: BenchBridge,
  api: FakeAnthropic,
  model: string,
  personaText: string,
  keep: number,
): Promise<TurnRecord[]> {
  const answers: string[] = [];
  const records: TurnRecord[] = [];
  for (let turn = 0; turn < TURNS; turn++) {
    await bridgeSettled(bridge, keep);
    await sleep(THINK_MS);
    const before = api.posts().length;
    const outcome = assertComplete(
      await streamChat(bridge.url, { model, messages: chatMessages(personaText, answers, turn) }),
      `conversation turn ${turn + 1}`,
    );
    answers.push(outcome.text);
    records.push({
      ttftMs: outcome.ttftMs,
      usage: usageSince(api, before),
      reported: outcome.usage,
    });
  }
  return records;
}

/** One conversation on a CLI driven directly, each turn written to the process that ran the last. */
async function floorConversation(
  bin: string,
  agent: Agent,
  model: string,
  api: FakeAnthropic,
  env: Record<string, string>,
  personaText: string,
): Promise<TurnRecord[]> {
  await using cli = FloorCli.start(bin, agent, model, env);
  await cli.probe();
  const systemPrompt = systemPromptOf(agent, [personaText]);
  const records: TurnRecord[] = [];
  for (let turn = 0; turn < TURNS; turn++) {
    await sleep(THINK_MS);
    const before = api.posts().length;
    const { ttftMs } = await cli.turn(USER_LINES[turn]!, { systemPrompt });
    records.push({ ttftMs, usage: usageSince(api, before) });
  }
  return records;
}

/**
 * One conversation in the old design: each turn a one-shot CLI whose prompt
 * is the flattened history; turn 1 always pre-started (warm), later turns
 * pre-started too or, with `coldLater`, spawned for the turn.
 */
async function oldConversation(
  bin: string,
  agent: Agent,
  model: string,
  api: FakeAnthropic,
  env: Record<string, string>,
  personaText: string,
  coldLater: boolean,
): Promise<TurnRecord[]> {
  const messages: OldMessage[] = [{ role: "system", content: personaText }];
  const records: TurnRecord[] = [];
  const cwd = await Deno.makeTempDir({ prefix: "bridge-bench-old-" });
  try {
    for (let turn = 0; turn < TURNS; turn++) {
      messages.push({ role: "user", content: USER_LINES[turn]! });
      const line = oldUserLine(oldFlatten(messages));
      const cold = coldLater && turn > 0;
      if (!cold) await sleep(THINK_MS);
      const before = api.posts().length;
      await using cli = new DirectCli(bin, oldArgs(agent, model), cwd, { ...OLD_ENV, ...env });
      let sent: number;
      if (cold) {
        sent = cli.spawnedAt;
        await cli.write(line);
      } else {
        await cli.write(OLD_INITIALIZE);
        await cli.next((text) => text.includes('"control_response"'));
        await sleep(THINK_MS);
        sent = await cli.write(line);
      }
      await cli.close();
      const first = await cli.next(isTextDelta);
      const result = JSON.parse((await cli.next(isResult)).line);
      if (result.is_error) throw new Error(`old-design turn failed: ${JSON.stringify(result)}`);
      // The CLI exits after the result; its API calls are all in by then.
      records.push({ ttftMs: first.receivedAt - sent, usage: usageSince(api, before) });
      messages.push({ role: "assistant", content: String(result.result ?? "") });
      if (cold && turn + 1 < TURNS) await sleep(THINK_MS);
    }
  } finally {
    await Deno.remove(cwd, { recursive: true }).catch(() => {});
  }
  return records;
}

/** Runs the conversation section; see the module documentation. */
export async function conversationSection(
  options: ConversationOptions,
): Promise<ConversationResults> {
  const { bin, agent, model, rounds, log } = options;
  const cache = { cache: { minTokens: 1024 } };
  await using liveApi = startFakeAnthropic(voiceReplies, cache);
  await using resumeApi = startFakeAnthropic(voiceReplies, cache);
  await using floorApi = startFakeAnthropic(voiceReplies, cache);
  await using oldApi = startFakeAnthropic(voiceReplies, cache);
  const home = await Deno.makeTempDir({ prefix: "bridge-bench-home-" });
  const root = await Deno.makeTempDir({ prefix: "bridge-bench-root-" });
  try {
    const bridgeEnv = (api: FakeAnthropic) => ({
      ...fakeApiEnv(api.url, home),
      CLAUDE_BIN: bin,
      WORKSPACE_ROOT: root,
      WARM_POOL: "off",
      MAX_CONCURRENT: String(rounds + 4),
    });
    await using live = await BenchBridge.launch({
      ...bridgeEnv(liveApi),
      LIVE_SESSIONS: String(rounds + 1),
    });
    await using resume = await BenchBridge.launch({ ...bridgeEnv(resumeApi), LIVE_SESSIONS: "0" });
    const base = persona(options.personaTokens);
    const records = {
      live: [] as TurnRecord[][],
      resume: [] as TurnRecord[][],
      floor: [] as TurnRecord[][],
      oldWarm: [] as TurnRecord[][],
      oldCold: [] as TurnRecord[][],
    };
    for (let r = 0; r < rounds; r++) {
      const personaOf = (design: string) => `Call ${r + 1} (${design}).\n${base}`;
      log(`  round ${r + 1}/${rounds}: live`);
      records.live.push(
        await bridgeConversation(live, liveApi, model, personaOf("live"), r + 1),
      );
      log(`  round ${r + 1}/${rounds}: resume`);
      records.resume.push(
        await bridgeConversation(resume, resumeApi, model, personaOf("resume"), 0),
      );
      log(`  round ${r + 1}/${rounds}: the CLI's live floor`);
      records.floor.push(
        await floorConversation(
          bin,
          agent,
          model,
          floorApi,
          fakeApiEnv(floorApi.url, home),
          personaOf("floor"),
        ),
      );
      const oldEnv = fakeApiEnv(oldApi.url, home);
      log(`  round ${r + 1}/${rounds}: old design, pre-started processes`);
      records.oldWarm.push(
        await oldConversation(bin, agent, model, oldApi, oldEnv, personaOf("old warm"), false),
      );
      log(`  round ${r + 1}/${rounds}: old design, later turns cold`);
      records.oldCold.push(
        await oldConversation(bin, agent, model, oldApi, oldEnv, personaOf("old cold"), true),
      );
    }
    // Every live conversation's process is parked now, idle after its last turn.
    await sleep(1000);
    const pids = await live.cliPids();
    const weights = await Promise.all(pids.map((pid) => treeMemory(pid)));
    const liveState = await live.state();
    const resumeState = await resume.state();
    return {
      rounds,
      turns: TURNS,
      personaTokens: options.personaTokens,
      thinkMs: THINK_MS,
      live: {
        ...designResult(records.live),
        livePath: liveState.paths.live,
        memory: {
          sessions: weights.length,
          rssMiB: round(median(weights.map((w) => w.rssMiB))),
          pssMiB: round(median(weights.map((w) => w.pssMiB))),
          processes: median(weights.map((w) => w.processes)),
        },
      },
      resume: { ...designResult(records.resume), resumePath: resumeState.paths.resume },
      floor: designResult(records.floor),
      oldWarm: designResult(records.oldWarm),
      oldCold: designResult(records.oldCold),
    };
  } finally {
    await Deno.remove(home, { recursive: true }).catch(() => {});
    await Deno.remove(root, { recursive: true }).catch(() => {});
  }
}
