/**
 * The OpenAI Agents SDK for JS (`@openai/agents`, pinned in tests/deno.json)
 * against the bridge with the real Claude Code CLI behind it: an agent with
 * one function tool whose `execute` really runs (it reads a file), through
 * the Chat Completions model and through the SDK's default Responses model,
 * each streaming and not. The model (the fake API) calls the tool; the SDK
 * runs it and sends the result back; the final output quotes the file.
 * Tracing is off: it would export spans to api.openai.com.
 */
import assert from "node:assert/strict";
import { z } from "zod";
import { agents, openaiClient } from "../support/client_libraries.ts";
import { clientSandbox, modelToolName, startToolBridge } from "../support/real_clients.ts";

const SECRET = "The secret word is LYCHEE-2718.";

agents.setTracingDisabled(true);

type Api = "chat_completions" | "responses";

/** One agent run whose model calls `read_secret` once and then quotes what it returned. */
async function roundTrip(api: Api, stream: boolean): Promise<void> {
  await using box = await clientSandbox();
  await Deno.writeTextFile(`${box.work}/secret.txt`, `${SECRET}\n`);
  await using bridge = await startToolBridge({
    tool: "read_secret",
    input: { path: "secret.txt" },
    answer: (results) =>
      results.some((result) => result.text.includes(SECRET))
        ? `The file says: ${SECRET}`
        : "The tool result did not hold the file.",
  });
  const client = openaiClient(bridge.baseUrl);
  const model = api === "chat_completions"
    ? new agents.OpenAIChatCompletionsModel(client, "sonnet")
    : new agents.OpenAIResponsesModel(client, "sonnet");
  const executed: string[] = [];
  const readSecret = agents.tool({
    name: "read_secret",
    description: "Read a text file from the work directory and return its contents.",
    parameters: z.object({ path: z.string().describe("relative file path") }),
    async execute({ path }) {
      executed.push(path);
      return await Deno.readTextFile(`${box.work}/${path}`);
    },
  });
  const agent = new agents.Agent({
    name: "Reader",
    instructions: "Read files with read_secret and quote them.",
    model,
    tools: [readSecret],
  });
  const signal = AbortSignal.timeout(60_000);
  let finalOutput: unknown;
  let streamed = "";
  if (stream) {
    const result = await agents.run(agent, "Quote secret.txt.", { stream: true, signal });
    for await (const text of result.toTextStream()) streamed += text;
    await result.completed;
    finalOutput = result.finalOutput;
  } else {
    finalOutput = (await agents.run(agent, "Quote secret.txt.", { signal })).finalOutput;
  }

  assert.deepEqual(executed, ["secret.txt"], "the tool's execute ran once");
  const first = bridge.posts().find((post) => post.body?.tools?.length);
  const offered: string[] = first?.body.tools.map((tool: { name: string }) => tool.name) ?? [];
  assert.deepEqual(offered, [modelToolName("read_secret")]);
  const read = bridge.results().find((result) => result.text.includes(SECRET));
  assert.ok(read, `the model got the file in a tool_result: ${JSON.stringify(bridge.results())}`);
  assert.equal(bridge.resumedSuspended(), 1, "the result continued the suspended run");
  assert.equal(finalOutput, `The file says: ${SECRET}`);
  if (stream) assert.equal(streamed, `The file says: ${SECRET}`);
}

for (const api of ["chat_completions", "responses"] as const) {
  for (const stream of [false, true]) {
    Deno.test({
      name: `Agents SDK (${api}, ${
        stream ? "streaming" : "not streaming"
      }): the function tool's execute runs and the final output quotes its result`,
      fn: () => roundTrip(api, stream),
    });
  }
}
