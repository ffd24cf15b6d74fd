/**
 * Real OpenAI client libraries against the bridge (with the stand-in CLI):
 * the `openai` SDK, the Vercel AI SDK (`ai` + `@ai-sdk/openai-compatible`)
 * and LangChain (`@langchain/openai`), each streaming and not, asserting the
 * text, the usage and the finish reason, and that the client raised nothing.
 *
 * Function calling, with the real Claude Code CLI behind the bridge and the
 * fake Anthropic API as the model (it calls the client's `get_weather` once,
 * then answers by quoting the tool result it got back, so the answer proves
 * the result reached the model): the `openai` SDK's manual loop streaming and
 * not and its own tool runner (`runTools`), the Vercel AI SDK's
 * `generateText` with a multi-step stop condition and `streamText`,
 * LangChain's `bindTools`, and a Pipecat-shaped exchange replayed as JSON.
 */
import assert from "node:assert/strict";
import { z } from "zod";
import {
  ChatOpenAI,
  createOpenAICompatible,
  generateText,
  OpenAI,
  openaiClient,
  stepCountIs,
  streamText,
  tool,
} from "../support/client_libraries.ts";
import { sseData, startServer, TEST_KEY } from "../support/harness.ts";
import { startToolBridge } from "../support/real_clients.ts";

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
  const client = openaiClient(`${server.url}/v1`);
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
  const client = openaiClient(`${server.url}/v1`);
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
    if (chunk.choices[0]?.finish_reason) {
      finishes.push(chunk.choices[0].finish_reason);
    }
    usage = chunk.usage ?? usage;
  }
  assert.equal(text, "Hello world");
  assert.deepEqual(finishes, ["stop"]);
  assert.equal(usage?.total_tokens, 18);
});

Deno.test("openai SDK: models.list and an API error raised as APIError with the message", async () => {
  await using server = await startServer();
  const client = openaiClient(`${server.url}/v1`);
  const models = [];
  for await (const model of client.models.list()) models.push(model.id);
  assert.deepEqual(models, ["haiku", "sonnet", "opus"]);
  await assert.rejects(
    client.chat.completions.create({
      model: "gpt-4",
      messages: [{ role: "user", content: "x" }],
    }),
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
  for await (
    const chunk of await model.stream(prompt(["Lang", "Chain ", "streams."]))
  ) {
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

// ------------------------------------------------------------ function calling

/** What the client's `get_weather` returns. */
const WEATHER = "sunny, 25C";
/** The fake model's answer once it got `WEATHER` back. */
const ANSWER = `Paris: ${WEATHER}.`;

/** The bridge with the real CLI; the fake model calls `get_weather` for Paris, then quotes the result. */
const weatherBridge = () =>
  startToolBridge({
    tool: "get_weather",
    input: { city: "Paris" },
    answer: (results) => `Paris: ${results.map((result) => result.text).join("; ")}.`,
  });

const weatherParameters = {
  type: "object",
  properties: { city: { type: "string" } },
  required: ["city"],
  additionalProperties: false,
};

const weatherTool: OpenAI.ChatCompletionTool = {
  type: "function",
  function: {
    name: "get_weather",
    description: "Current weather for a city",
    parameters: weatherParameters,
  },
};

Deno.test("openai SDK: manual tool loop, not streaming: tool_calls, then the result, then the answer from it", async () => {
  await using bridge = await weatherBridge();
  const client = openaiClient(bridge.baseUrl);
  const messages: OpenAI.ChatCompletionMessageParam[] = [
    { role: "user", content: "Weather in Paris?" },
  ];
  const first = await client.chat.completions.create({
    model: "sonnet",
    messages,
    tools: [weatherTool],
  });
  const choice = first.choices[0]!;
  assert.equal(choice.finish_reason, "tool_calls");
  const [call] = choice.message.tool_calls ?? [];
  assert.ok(call?.type === "function", JSON.stringify(choice.message));
  assert.equal(call.function.name, "get_weather");
  assert.deepEqual(JSON.parse(call.function.arguments), { city: "Paris" });
  messages.push(choice.message, {
    role: "tool",
    tool_call_id: call.id,
    content: WEATHER,
  });
  const second = await client.chat.completions.create({
    model: "sonnet",
    messages,
    tools: [weatherTool],
  });
  assert.equal(second.choices[0]?.message.content, ANSWER);
  assert.equal(second.choices[0]?.finish_reason, "stop");
  assert.deepEqual(bridge.results().map((result) => result.text), [WEATHER]);
});

Deno.test("openai SDK: manual tool loop, streaming: the call assembled from its deltas, then the streamed answer", async () => {
  await using bridge = await weatherBridge();
  const client = openaiClient(bridge.baseUrl);
  const messages: OpenAI.ChatCompletionMessageParam[] = [
    { role: "user", content: "Weather in Paris?" },
  ];
  const calls: { id: string; name: string; arguments: string }[] = [];
  const finishes: string[] = [];
  let usage: OpenAI.CompletionUsage | null | undefined;
  for await (
    const chunk of await client.chat.completions.create({
      model: "sonnet",
      messages,
      tools: [weatherTool],
      stream: true,
      stream_options: { include_usage: true },
    })
  ) {
    for (const delta of chunk.choices[0]?.delta.tool_calls ?? []) {
      const call = calls[delta.index] ??= { id: "", name: "", arguments: "" };
      call.id += delta.id ?? "";
      call.name += delta.function?.name ?? "";
      call.arguments += delta.function?.arguments ?? "";
    }
    if (chunk.choices[0]?.finish_reason) {
      finishes.push(chunk.choices[0].finish_reason);
    }
    usage = chunk.usage ?? usage;
  }
  assert.deepEqual(finishes, ["tool_calls"]);
  assert.equal(calls.length, 1);
  assert.equal(calls[0]!.name, "get_weather");
  assert.deepEqual(JSON.parse(calls[0]!.arguments), { city: "Paris" });
  assert.ok(usage && usage.completion_tokens > 0, "usage at the end");
  messages.push(
    {
      role: "assistant",
      content: null,
      tool_calls: [{
        id: calls[0]!.id,
        type: "function",
        function: { name: calls[0]!.name, arguments: calls[0]!.arguments },
      }],
    },
    { role: "tool", tool_call_id: calls[0]!.id, content: WEATHER },
  );
  let text = "";
  for await (
    const chunk of await client.chat.completions.create({
      model: "sonnet",
      messages,
      tools: [weatherTool],
      stream: true,
    })
  ) text += chunk.choices[0]?.delta.content ?? "";
  assert.equal(text, ANSWER);
  assert.deepEqual(bridge.results().map((result) => result.text), [WEATHER]);
});

for (const stream of [false, true]) {
  Deno.test(
    `openai SDK: the SDK's own tool runner (runTools${
      stream ? ", streaming" : ""
    }) runs the function and returns the answer`,
    async () => {
      await using bridge = await weatherBridge();
      const client = openaiClient(bridge.baseUrl);
      const ran: string[] = [];
      const body = {
        model: "sonnet",
        messages: [{ role: "user" as const, content: "Weather in Paris?" }],
        tools: [{
          type: "function" as const,
          function: {
            name: "get_weather",
            description: "Current weather for a city",
            parameters: weatherParameters,
            parse: (input: string) => JSON.parse(input) as { city: string },
            function: ({ city }: { city: string }) => {
              ran.push(city);
              return WEATHER;
            },
          },
        }],
      };
      const runner = stream
        ? client.chat.completions.runTools({ ...body, stream: true })
        : client.chat.completions.runTools(body);
      assert.equal(await runner.finalContent(), ANSWER);
      assert.deepEqual(ran, ["Paris"]);
      assert.deepEqual(bridge.results().map((result) => result.text), [
        WEATHER,
      ]);
    },
  );
}

/** The AI SDK's `get_weather`, recording each execution in `ran`. */
const aiSdkWeather = (ran: string[]) => ({
  get_weather: tool({
    description: "Current weather for a city",
    inputSchema: z.object({ city: z.string() }),
    execute: ({ city }: { city: string }) => {
      ran.push(city);
      return Promise.resolve(WEATHER);
    },
  }),
});

Deno.test("Vercel AI SDK: generateText with a tool and a multi-step stop condition runs it and answers", async () => {
  await using bridge = await weatherBridge();
  const ran: string[] = [];
  const result = await generateText({
    model: aiSdkProvider(bridge.bridge.url)("sonnet"),
    prompt: "Weather in Paris?",
    tools: aiSdkWeather(ran),
    stopWhen: stepCountIs(5),
    maxRetries: 0,
  });
  assert.deepEqual(ran, ["Paris"]);
  assert.equal(result.steps.length, 2);
  assert.equal(result.steps[0]?.finishReason, "tool-calls");
  assert.deepEqual(
    result.steps[0]?.toolCalls.map((call) => [call.toolName, call.input]),
    [["get_weather", { city: "Paris" }]],
  );
  assert.equal(result.text, ANSWER);
  assert.equal(result.finishReason, "stop");
  assert.deepEqual(bridge.results().map((result) => result.text), [WEATHER]);
});

Deno.test("Vercel AI SDK: streamText streams the tool call, its result, then the answer", async () => {
  await using bridge = await weatherBridge();
  const ran: string[] = [];
  const errors: unknown[] = [];
  const result = streamText({
    model: aiSdkProvider(bridge.bridge.url)("sonnet"),
    prompt: "Weather in Paris?",
    tools: aiSdkWeather(ran),
    stopWhen: stepCountIs(5),
    maxRetries: 0,
    onError: ({ error }) => void errors.push(error),
  });
  const parts: string[] = [];
  let text = "";
  for await (const part of result.fullStream) {
    if (part.type === "tool-call") {
      parts.push(`call ${part.toolName} ${JSON.stringify(part.input)}`);
    }
    if (part.type === "tool-result") {
      parts.push(`result ${JSON.stringify(part.output)}`);
    }
    if (part.type === "text-delta") text += part.text;
  }
  assert.deepEqual(errors, []);
  assert.deepEqual(parts, [
    'call get_weather {"city":"Paris"}',
    `result ${JSON.stringify(WEATHER)}`,
  ]);
  assert.deepEqual(ran, ["Paris"]);
  assert.equal(text, ANSWER);
  assert.equal(await result.finishReason, "stop");
  assert.deepEqual(bridge.results().map((result) => result.text), [WEATHER]);
});

for (const mode of ["invoke", "stream"] as const) {
  Deno.test(`LangChain: bindTools (${mode}): tool_calls, then a tool message, then the answer`, async () => {
    await using bridge = await weatherBridge();
    const model = new ChatOpenAI({
      model: "sonnet",
      apiKey: TEST_KEY,
      configuration: { baseURL: bridge.baseUrl },
      maxRetries: 0,
    }).bindTools([weatherTool]);
    const ask = async (messages: Parameters<typeof model.invoke>[0]) => {
      if (mode === "invoke") return await model.invoke(messages);
      let gathered;
      for await (const chunk of await model.stream(messages)) {
        gathered = gathered ? gathered.concat(chunk) : chunk;
      }
      assert.ok(gathered);
      return gathered;
    };
    const question = { role: "user", content: "Weather in Paris?" };
    const first = await ask([question]);
    assert.equal(first.tool_calls?.length, 1);
    const call = first.tool_calls![0]!;
    assert.equal(call.name, "get_weather");
    assert.deepEqual(call.args, { city: "Paris" });
    const answer = await ask([
      question,
      first,
      { role: "tool", content: WEATHER, tool_call_id: call.id! },
    ]);
    assert.equal(answer.content, ANSWER);
    assert.deepEqual(answer.tool_calls ?? [], []);
    assert.deepEqual(bridge.results().map((result) => result.text), [WEATHER]);
  });
}

Deno.test("a Pipecat-shaped function-calling exchange: streamed tool call, the tool result, the spoken answer", async () => {
  await using bridge = await startToolBridge({
    tool: "get_current_weather",
    input: { location: "San Francisco, CA", format: "fahrenheit" },
    answer: ([result]) => {
      const { conditions, temperature } = JSON.parse(result?.text ?? "{}");
      return `It is ${conditions} in San Francisco, ${temperature} degrees.`;
    },
  });
  const post = (body: unknown) =>
    fetch(`${bridge.baseUrl}/chat/completions`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${TEST_KEY}`,
        "content-type": "application/json",
      },
      body: JSON.stringify(body),
    });
  // As Pipecat's OpenAILLMService sends it: the whole context, the tools, usage asked for.
  const messages: Record<string, unknown>[] = [
    {
      role: "system",
      content: "You are a helpful voice assistant. Your output is spoken; no special characters.",
    },
    { role: "user", content: "What's the weather in San Francisco?" },
  ];
  const tools = [{
    type: "function",
    function: {
      name: "get_current_weather",
      description: "Get the current weather",
      parameters: {
        type: "object",
        properties: {
          location: {
            type: "string",
            description: "The city and state, e.g. San Francisco, CA",
          },
          format: { type: "string", enum: ["celsius", "fahrenheit"] },
        },
        required: ["location", "format"],
      },
    },
  }];
  const request = (messages: unknown[]) => ({
    model: "haiku",
    stream: true,
    stream_options: { include_usage: true },
    messages,
    tools,
    tool_choice: "auto",
  });
  type Chunk = {
    choices: {
      delta: {
        role?: string;
        content?: string | null;
        tool_calls?: {
          index: number;
          id?: string;
          type?: string;
          function?: { name?: string; arguments?: string };
        }[];
      };
      finish_reason: string | null;
    }[];
    usage?: { total_tokens: number };
  };
  const chunksOf = async (response: Response) => {
    assert.equal(response.status, 200);
    assert.match(
      response.headers.get("content-type") ?? "",
      /^text\/event-stream/,
    );
    const events = sseData(await response.text());
    assert.equal(events.at(-1), "[DONE]");
    return events.slice(0, -1) as Chunk[];
  };

  const first = await chunksOf(await post(request(messages)));
  const deltas = first.flatMap((chunk) => chunk.choices[0]?.delta.tool_calls ?? []);
  assert.ok(deltas.length >= 1);
  const [head, ...rest] = deltas;
  assert.equal(head?.index, 0);
  assert.equal(head?.type, "function");
  assert.equal(head?.function?.name, "get_current_weather");
  assert.ok(head?.id, "the first delta carries the call's id");
  assert.ok(rest.every((delta) => delta.index === 0 && delta.id === undefined));
  const args = deltas.map((delta) => delta.function?.arguments ?? "").join("");
  assert.deepEqual(JSON.parse(args), {
    location: "San Francisco, CA",
    format: "fahrenheit",
  });
  const finishes = first.flatMap((chunk) => chunk.choices.map((choice) => choice.finish_reason));
  assert.deepEqual(finishes.filter((reason) => reason !== null), [
    "tool_calls",
  ]);
  assert.ok(first.at(-1)?.usage, "the usage chunk comes last");

  // Pipecat appends the assistant's call (no content key) and the tool's JSON result.
  const result = JSON.stringify({ conditions: "nice", temperature: "75" });
  const second = await chunksOf(
    await post(request([
      ...messages,
      {
        role: "assistant",
        tool_calls: [{
          id: head!.id,
          type: "function",
          function: { name: "get_current_weather", arguments: args },
        }],
      },
      { role: "tool", content: result, tool_call_id: head!.id },
    ])),
  );
  const spoken = second.map((chunk) => chunk.choices[0]?.delta.content ?? "")
    .join("");
  assert.equal(spoken, "It is nice in San Francisco, 75 degrees.");
  assert.deepEqual(
    second.flatMap((chunk) => chunk.choices.map((choice) => choice.finish_reason))
      .filter((reason) => reason !== null),
    ["stop"],
  );
  assert.deepEqual(bridge.results().map((toolResult) => toolResult.text), [
    result,
  ]);
  assert.equal(
    bridge.resumedSuspended(),
    1,
    "the result continued the suspended run",
  );
});
