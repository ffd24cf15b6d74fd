# syntax=docker/dockerfile:1
#
# claude-openai-bridge on the official Deno image, with a pinned Claude Code CLI.
#
#   docker build -t claude-openai-bridge .
#   docker run -p 8000:8000 -e CLAUDE_CODE_OAUTH_TOKEN=... -e API_KEYS=... claude-openai-bridge
#
# The CLI is fetched with npm in a throwaway Node stage: its npm package ships
# the platform's native (Bun-compiled) executable, which its postinstall puts at
# bin/claude.exe. Only that one file is copied; no Node.js in the final image.

ARG DENO_VERSION=2.9.6
ARG CLAUDE_CODE_VERSION=2.1.197

FROM node:22-bookworm-slim AS claude
ARG CLAUDE_CODE_VERSION
RUN npm install --global --no-fund --no-audit "@anthropic-ai/claude-code@${CLAUDE_CODE_VERSION}" \
 && cp "$(npm root --global)/@anthropic-ai/claude-code/bin/claude.exe" /claude \
 && /claude --version | grep -F "${CLAUDE_CODE_VERSION}"

FROM denoland/deno:${DENO_VERSION}

COPY --from=claude /claude /usr/local/bin/claude

# CA certificates for the CLI's HTTPS. The CLI keeps its state (~/.claude.json,
# ~/.claude/) in HOME; the image's deno user (uid 1993) has none, so give it
# one. Mount a signed-in ~/.claude at /home/deno/.claude (read-write) to use it
# instead of CLAUDE_CODE_OAUTH_TOKEN.
ENV HOME=/home/deno
RUN apt-get update \
 && apt-get install --yes --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /home/deno/.claude /tmp/claude-openai-bridge \
 && chown -R deno:deno /home/deno /tmp/claude-openai-bridge

WORKDIR /app
COPY deno.json deno.lock main.ts ./
COPY src/ src/
COPY agents/ agents/

USER deno
# Fetch the npm dependencies into DENO_DIR now, so the start needs no network.
RUN deno cache --frozen main.ts

ENV HOST=0.0.0.0 \
    PORT=8000 \
    CLAUDE_BIN=claude \
    DISABLE_AUTOUPDATER=1
EXPOSE 8000

# No curl in the image: Deno fetches /readyz itself.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["deno", "eval", "const r = await fetch('http://127.0.0.1:' + (Deno.env.get('PORT') ?? '8000') + '/readyz'); await r.body?.cancel(); Deno.exit(r.ok ? 0 : 1)"]

# The same scoped permissions as `deno task start` (a test keeps them equal).
# The image's entrypoint (tini + docker-entrypoint.sh) prefixes `deno`.
CMD ["run","--allow-run=claude,sh","--allow-net=0.0.0.0,127.0.0.1,localhost","--allow-env=PORT,HOST,API_KEYS,API_KEYS_FILE,CLAUDE_BIN,MODELS,DEFAULT_MODEL,AGENTS_DIR,STREAM_AGENT,COMPLETION_AGENT,WORKSPACE_ROOT,LOG_LEVEL,METRICS,REQUEST_TIMEOUT_MS,MAX_BODY_BYTES,HEADER_TIMEOUT_MS,FIRST_EVENT_TIMEOUT_MS,MAX_CONCURRENT,MAX_QUEUE,SHUTDOWN_GRACE_MS,KILL_GRACE_MS,MAX_LINE_CHARS,WARM_POOL,WARM_POOL_MAX_AGE_MS,LIVE_SESSIONS,LIVE_SESSION_IDLE_MS,TOOL_RESULT_TIMEOUT_MS,RESPONSES_STORE_MAX,RESPONSES_STORE_TTL_MS","--allow-read=agents,/tmp/claude-openai-bridge","--allow-write=/tmp/claude-openai-bridge","main.ts"]
