/**
 * Real OpenAI client libraries against the bridge (with the stand-in CLI):
 * the `openai` SDK, the Vercel AI SDK (`ai` + `@ai-sdk/openai-compatible`)
 * and LangChain (`@langchain/openai`), each streaming and not, asserting the
 * text, the usage and the finish reason, and that the client raised nothing.
 */
import assert from "node:assert/strict";
import {
  ChatOpenAI,
  createOpenAICompatible,
  generateText,
  OpenAI,
  streamText,
} from "../support/client_libraries.ts";
import { startServer, TEST_KEY } from "../support/harness.ts";

/** A prompt that makes the stand-in CLI say `say` and report 10 + 5 cached in, 3 out. */
const prompt = (say: string[]) =>
  `Say hello. [[fake:${
    JSON.stringify({
      say,
      usage: { input_tokens: 10, cache_read_input_tokens: 5, output_tokens: 3 },
    })
  }]]`;

Deno.test("openai SDK: chat.completions.create, non-streaming", async () => {
  await using server = await startServer();
  const client = new OpenAI({ apiKey: TEST_KEY, baseURL: `${server.url}/v1`, maxRetries: 0 });
  const completion = await client.chat.completions.create({
    model: "haiku",
    messages: [{ role: "system", content: "Be brief." }, {
      role: "user",
      content: prompt(["Hello ", "there."]),
    }],
  });
  assert.equal(completion.object, "chat.completion");
  assert.equal(completion.choices[0]?.message.content, "Hello there.");
  assert.equal(completion.choices[0]?.finish_reason, "stop");
  assert.equal(completion.usage?.prompt_tokens, 15);
  assert.equal(completion.usage?.completion_tokens, 3);
  assert.equal(completion.usage?.prompt_tokens_details?.cached_tokens, 5);
});

Deno.test("openai SDK: streaming with include_usage", async () => {
  await using server = await startServer();
  const client = new OpenAI({ apiKey: TEST_KEY, baseURL: `${server.url}/v1`, maxRetries: 0 });
  const stream = await client.chat.completions.create({
    model: "sonnet",
    stream: true,
    stream_options: { include_usage: true },
    messages: [{ role: "user", content: prompt(["Hel", "lo", " world"]) }],
  });
  let text = "";
  const finishes: string[] = [];
  let usage: OpenAI.CompletionUsage | null | undefined;
  for await (const chunk of stream) {
    text += chunk.choices[0]?.delta.content ?? "";
    if (chunk.choices[0]?.finish_reason) finishes.push(chunk.choices[0].finish_reason);
    usage = chunk.usage ?? usage;
  }
  assert.equal(text, "Hello world");
  assert.deepEqual(finishes, ["stop"]);
  assert.equal(usage?.total_tokens, 18);
});

Deno.test("openai SDK: models.list and an API error raised as APIError with the message", async () => {
  await using server = await startServer();
  const client = new OpenAI({ apiKey: TEST_KEY, baseURL: `${server.url}/v1`, maxRetries: 0 });
  const models = [];
  for await (const model of client.models.list()) models.push(model.id);
  assert.deepEqual(models, ["haiku", "sonnet", "opus"]);
  await assert.rejects(
    client.chat.completions.create({ model: "gpt-4", messages: [{ role: "user", content: "x" }] }),
    (error: unknown) => error instanceof OpenAI.APIError && error.status === 400,
  );
});

/** The AI SDK's OpenAI-compatible provider pointed at the bridge, asking for stream usage. */
const aiSdkProvider = (url: string) =>
  createOpenAICompatible({
    name: "bridge",
    baseURL: `${url}/v1`,
    apiKey: TEST_KEY,
    includeUsage: true,
  });

Deno.test("Vercel AI SDK: generateText through @ai-sdk/openai-compatible", async () => {
  await using server = await startServer();
  const bridge = aiSdkProvider(server.url);
  const result = await generateText({
    model: bridge("haiku"),
    system: "Be brief.",
    prompt: prompt(["Hi ", "from AI SDK."]),
    maxRetries: 0,
  });
  assert.equal(result.text, "Hi from AI SDK.");
  assert.equal(result.finishReason, "stop");
  assert.equal(result.usage.inputTokens, 15);
  assert.equal(result.usage.outputTokens, 3);
});

Deno.test("Vercel AI SDK: streamText through @ai-sdk/openai-compatible", async () => {
  await using server = await startServer();
  const bridge = aiSdkProvider(server.url);
  const errors: unknown[] = [];
  const result = streamText({
    model: bridge("sonnet"),
    prompt: prompt(["Stream", "ed ", "text."]),
    maxRetries: 0,
    onError: ({ error }) => void errors.push(error),
  });
  let text = "";
  for await (const part of result.textStream) text += part;
  assert.equal(text, "Streamed text.");
  assert.equal(await result.finishReason, "stop");
  const usage = await result.usage;
  assert.equal(usage.inputTokens, 15);
  assert.equal(usage.outputTokens, 3);
  assert.deepEqual(errors, []);
});

Deno.test("LangChain: ChatOpenAI.invoke", async () => {
  await using server = await startServer();
  const model = new ChatOpenAI({
    model: "haiku",
    apiKey: TEST_KEY,
    configuration: { baseURL: `${server.url}/v1` },
    maxRetries: 0,
  });
  const message = await model.invoke([
    ["system", "Be brief."],
    ["human", prompt(["Hi ", "from LangChain."])],
  ]);
  assert.equal(message.content, "Hi from LangChain.");
  assert.equal(message.response_metadata.finish_reason, "stop");
  assert.equal(message.usage_metadata?.input_tokens, 15);
  assert.equal(message.usage_metadata?.output_tokens, 3);
});

Deno.test("LangChain: ChatOpenAI.stream", async () => {
  await using server = await startServer();
  const model = new ChatOpenAI({
    model: "sonnet",
    apiKey: TEST_KEY,
    configuration: { baseURL: `${server.url}/v1` },
    maxRetries: 0,
    streamUsage: true,
  });
  let text = "";
  let finish: unknown;
  let inputTokens = 0;
  let outputTokens = 0;
  for await (const chunk of await model.stream(prompt(["Lang", "Chain ", "streams."]))) {
    text += typeof chunk.content === "string" ? chunk.content : "";
    finish = chunk.response_metadata?.finish_reason ?? finish;
    inputTokens += chunk.usage_metadata?.input_tokens ?? 0;
    outputTokens += chunk.usage_metadata?.output_tokens ?? 0;
  }
  assert.equal(text, "LangChain streams.");
  assert.equal(finish, "stop");
  assert.equal(inputTokens, 15);
  assert.equal(outputTokens, 3);
});
