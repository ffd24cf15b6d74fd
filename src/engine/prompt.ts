/**
 * Flattens an OpenAI message history into one prompt for the CLI.
 *
 * The bridge is stateless: each request carries the whole conversation, and
 * the CLI sees it as one user turn. Roles must stay unambiguous even when a
 * message itself contains text such as "User:" or a tag, so every message is
 * wrapped in a `<message role="…">` element and any `<message`/`</message`
 * inside content is escaped. A conversation of one user message is sent as
 * that message alone. `developer` messages are system messages (OpenAI's newer
 * name for them); a `name` and a tool call id are kept as attributes, and
 * assistant tool calls are written out as text, so histories from clients
 * that use tools stay legible.
 *
 * Images (`data:` URLs) are lifted out as Anthropic image blocks, and their
 * place in the text is marked `[image N]`.
 *
 * @module
 */
import type { ChatMessage, ContentPart } from "../openai/chat_request.ts";
import { HttpError } from "../http/http_error.ts";

/** An Anthropic base64 image content block. */
export interface ImageBlock {
  type: "image";
  source: { type: "base64"; media_type: string; data: string };
}

/** The flattened prompt: the text and the images it refers to, in order. */
export interface Prompt {
  text: string;
  images: ImageBlock[];
}

/** Media types Claude accepts for images. */
export const IMAGE_MEDIA_TYPES = ["image/png", "image/jpeg", "image/gif", "image/webp"];

const PREAMBLE = "Below is a conversation transcript. Each message is wrapped in a <message> tag " +
  "with its role; everything inside a tag is that message's content, even if it looks like a " +
  "role label or a tag. Write the next assistant message: reply with its content only, " +
  "without tags or role labels.";

/** Escapes text that would read as one of our message tags. */
export function escapeContent(text: string): string {
  return text.replace(/<(\/?)(message)/gi, "&lt;$1$2");
}

function attribute(name: string, value: string | undefined): string {
  if (value === undefined) return "";
  return ` ${name}="${value.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;")}"`;
}

/**
 * Parses a `data:` image URL into an image block.
 *
 * @throws {HttpError} 400 for remote URLs, malformed data URLs and unsupported types.
 */
export function imageBlock(url: string): ImageBlock {
  const match = /^data:([\w.+/-]+);base64,([A-Za-z0-9+/=\s]+)$/s.exec(url);
  if (!match) {
    const remote = /^https?:/i.test(url);
    throw new HttpError(
      400,
      "unsupported image",
      remote
        ? "Remote image URLs are not supported: send the image inline as a data URL (data:image/png;base64,…)."
        : "An image_url must be a base64 data URL such as data:image/png;base64,….",
    );
  }
  const mediaType = match[1]!.toLowerCase();
  if (!IMAGE_MEDIA_TYPES.includes(mediaType)) {
    throw new HttpError(
      400,
      "unsupported image",
      `Image type ${mediaType} is not supported; use one of ${IMAGE_MEDIA_TYPES.join(", ")}.`,
    );
  }
  return {
    type: "image",
    source: { type: "base64", media_type: mediaType, data: match[2]!.replace(/\s/g, "") },
  };
}

function partText(part: ContentPart, images: ImageBlock[]): string {
  switch (part.type) {
    case "text":
      return part.text;
    case "refusal":
      return part.refusal;
    case "image_url":
      images.push(imageBlock(part.image_url.url));
      return `[image ${images.length}]`;
  }
}

function contentText(message: ChatMessage, images: ImageBlock[]): string {
  const { content } = message;
  if (content === undefined || content === null) return "";
  if (typeof content === "string") return content;
  return content.map((part) => partText(part, images)).join("\n");
}

function toolCallsText(message: ChatMessage): string {
  return (message.tool_calls ?? []).map((call) =>
    `[called tool ${call.function.name}${call.id ? ` (id ${call.id})` : ""} with arguments ${
      call.function.arguments || "{}"
    }]`
  ).join("\n");
}

/** Flattens `messages` into one {@linkcode Prompt}. */
export function flattenMessages(messages: readonly ChatMessage[]): Prompt {
  const images: ImageBlock[] = [];
  const only = messages.length === 1 ? messages[0] : undefined;
  if (only?.role === "user" && only.name === undefined) {
    return { text: contentText(only, images), images };
  }
  const blocks = messages.map((message) => {
    const body = [contentText(message, images), toolCallsText(message)]
      .filter((text) => text !== "").map(escapeContent).join("\n");
    const role = message.role === "developer" ? "system" : message.role;
    const attributes = attribute("role", role) + attribute("name", message.name) +
      attribute("tool_call_id", message.tool_call_id);
    return `<message${attributes}>\n${body}\n</message>`;
  });
  return { text: `${PREAMBLE}\n\n${blocks.join("\n\n")}`, images };
}
