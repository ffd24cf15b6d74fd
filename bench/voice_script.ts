/**
 * The voice-style conversation the conversation benchmark replays: a long
 * persona (the client's system message, about 6,000 tokens by the fake API's
 * estimate of 4 characters a token), ten short user lines, and the short
 * answers a fake Anthropic API gives them — the same for every design, so
 * the designs are compared on identical conversations.
 *
 * @module
 */
import type { FakeReply, FakeScript } from "../tests/support/fake_anthropic.ts";
import { contentText } from "../tests/support/fake_anthropic.ts";

/** Rules a voice persona typically spells out, cycled to make the persona long. */
const RULES = [
  "Keep every answer to one or two short sentences unless the caller asks for detail.",
  "Never read out URLs, markdown, lists or symbols; say things the way a person would say them.",
  "If the caller interrupts you, stop and address what they said last.",
  "Confirm names, dates, times and numbers by repeating them back once.",
  "When you do not know something, say so plainly and offer to find out.",
  "Do not give medical, legal or financial advice; suggest a qualified professional instead.",
  "Use the caller's first name once you know it, but not in every sentence.",
  "Speak in a warm, calm and upbeat tone, and never sound rushed.",
  "Prefer concrete next steps over general explanations.",
  "If the line is noisy or the request is unclear, ask one short clarifying question.",
  "Never invent opening hours, prices or policies that are not written in this brief.",
  "When a booking is made, summarise it in one sentence before moving on.",
];

/** Facts of the fictional business the persona serves, cycled with the rules. */
const FACTS = [
  "The clinic opens at eight in the morning and closes at six in the evening on weekdays.",
  "On Saturdays the clinic opens from nine until one; it is closed on Sundays and public holidays.",
  "A standard check-up takes thirty minutes and costs forty-five euros.",
  "Vaccinations can be booked with any nurse; travel vaccines need two weeks' notice.",
  "Parking is free for the first hour in the yard behind the building.",
  "The nearest tram stop is Linden Square, two minutes' walk from the entrance.",
  "Test results are available by phone after three working days.",
  "Cancellations less than twenty-four hours ahead are charged ten euros.",
  "Doctor Alvarez works Monday to Wednesday; Doctor Brandt works Thursday and Friday.",
  "Children under twelve must be accompanied by an adult.",
];

/** About `tokens` tokens (4 characters each) of persona text. */
export function persona(tokens = 6000): string {
  const lines = [
    "You are Mira, the voice receptionist of the Linden Square Family Clinic.",
    "You answer phone calls from patients through a speech-to-text and text-to-speech pipeline.",
    "",
  ];
  let length = lines.join("\n").length;
  for (let i = 0; length < tokens * 4; i++) {
    const line = i % 2 === 0
      ? `Rule ${i / 2 + 1}: ${RULES[(i / 2) % RULES.length]}`
      : `Fact ${(i - 1) / 2 + 1}: ${FACTS[((i - 1) / 2) % FACTS.length]}`;
    lines.push(line);
    length += line.length + 1;
  }
  return lines.join("\n");
}

/** What the caller says, turn by turn. */
export const USER_LINES = [
  "Hi, is this the Linden Square clinic?",
  "Great. I'd like to book a check-up for next week.",
  "Tuesday morning would be best for me.",
  "Is nine thirty possible?",
  "Perfect. My name is Jonas Keller.",
  "And how much does the check-up cost?",
  "Okay. Is there parking nearby?",
  "Good to know. Which doctor will I see on Tuesday?",
  "Alright. What if I need to cancel?",
  "Thanks, that's everything. Bye!",
];

/** What the assistant answers, turn by turn (each split into a few deltas by the fake). */
export const ASSISTANT_LINES = [
  "Yes, this is Mira at the Linden Square Family Clinic. How can I help you today?",
  "Of course. Which day next week suits you best?",
  "Tuesday morning works. We have slots at nine thirty and at eleven.",
  "Nine thirty on Tuesday is free. May I have your name, please?",
  "Thank you, Jonas Keller, you're booked for Tuesday at nine thirty.",
  "A standard check-up costs forty-five euros and takes about thirty minutes.",
  "Yes, parking is free for the first hour in the yard behind the building.",
  "On Tuesdays you'll see Doctor Alvarez.",
  "Please cancel at least twenty-four hours ahead, otherwise there is a ten euro fee.",
  "You're welcome, Jonas. See you on Tuesday. Goodbye!",
];

/** The turn (0-based) a prompt text answers: the latest user line it contains, or -1. */
export function turnOf(text: string): number {
  for (let i = USER_LINES.length - 1; i >= 0; i--) {
    if (text.includes(USER_LINES[i]!)) return i;
  }
  return -1;
}

/** `line` as a few text deltas (about three words each). */
function deltas(line: string): string[] {
  const words = line.split(" ");
  const chunks: string[] = [];
  for (let i = 0; i < words.length; i += 3) {
    chunks.push((i === 0 ? "" : " ") + words.slice(i, i + 3).join(" "));
  }
  return chunks;
}

/**
 * The fake API's script: each request is answered with the assistant line
 * of the turn its last user message asks for (anything else with "ok").
 */
export const voiceReplies: FakeScript = (request) => {
  const messages: { role: string; content: unknown }[] = request.body?.messages ?? [];
  const last = messages.filter((message) => message.role === "user").at(-1);
  const turn = turnOf(contentText(last?.content));
  const reply: FakeReply = { text: turn < 0 ? ["ok"] : deltas(ASSISTANT_LINES[turn]!) };
  return reply;
};

/** An OpenAI chat message. */
export interface ChatMessage {
  role: "system" | "user" | "assistant";
  content: string;
}

/** The messages a client sends for `turn` (0-based): persona, earlier turns, the new user line. */
export function chatMessages(
  personaText: string,
  answers: readonly string[],
  turn: number,
): ChatMessage[] {
  const messages: ChatMessage[] = [{ role: "system", content: personaText }];
  for (let i = 0; i < turn; i++) {
    messages.push({ role: "user", content: USER_LINES[i]! });
    messages.push({ role: "assistant", content: answers[i]! });
  }
  messages.push({ role: "user", content: USER_LINES[turn]! });
  return messages;
}
