/**
 * `ServerSentEventStream`: encodes messages as `text/event-stream` bytes, like
 * `@std/http`'s class of the same name.
 *
 * @module
 */

/** One server-sent event. Every field is optional; `data` may span lines. */
export interface ServerSentEventMessage {
  /** A comment line (`: …`), ignored by clients; useful as a keep-alive. */
  comment?: string;
  /** The event name. */
  event?: string;
  /** The payload; each line becomes one `data:` line. */
  data?: string;
  /** The event id. */
  id?: string | number;
  /** The client's reconnection time, in milliseconds. */
  retry?: number;
}

const NEWLINE = /\r\n|\r|\n/;
const encoder = new TextEncoder();

function assertSingleLine(field: string, value: string | undefined): void {
  if (value !== undefined && NEWLINE.test(value)) {
    throw new SyntaxError(`Server-sent event ${field} must not contain a line break`);
  }
}

/**
 * Formats one message as its wire text, ending with the blank line that
 * dispatches it.
 *
 * @throws {SyntaxError} when `event` or `id` contains a line break.
 */
export function formatServerSentEvent(message: ServerSentEventMessage): string {
  const { comment, event, data, id, retry } = message;
  assertSingleLine("event", event);
  assertSingleLine("id", id === undefined ? undefined : String(id));
  let text = "";
  if (comment !== undefined) {
    for (const line of comment.split(NEWLINE)) text += `:${line === "" ? "" : " " + line}\n`;
  }
  if (event !== undefined) text += `event: ${event}\n`;
  if (data !== undefined) {
    // Nearly every payload is one line of JSON: no split for those.
    if (!NEWLINE.test(data)) text += `data: ${data}\n`;
    else for (const line of data.split(NEWLINE)) text += `data: ${line}\n`;
  }
  if (id !== undefined) text += `id: ${id}\n`;
  if (retry !== undefined) text += `retry: ${retry}\n`;
  return text + "\n";
}

/** Transforms {@linkcode ServerSentEventMessage}s into UTF-8 `text/event-stream` bytes. */
export class ServerSentEventStream extends TransformStream<ServerSentEventMessage, Uint8Array> {
  /** Makes an encoder. */
  constructor() {
    super({
      transform: (message, controller) => {
        controller.enqueue(encoder.encode(formatServerSentEvent(message)));
      },
    });
  }
}
