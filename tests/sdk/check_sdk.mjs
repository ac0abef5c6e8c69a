// The vendors' official SDKs against the fake vendor (tests/fakes/fake_llm.c), so the fake
// our client is tested against is honest both ways: it accepts what the SDKs send, and the
// SDKs parse what it answers. Usage: node check_sdk.mjs FAKE_SERVE_BINARY
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import assert from "node:assert/strict";
import OpenAI from "openai";
import Anthropic from "@anthropic-ai/sdk";

const KEY = "sk-sdk-check";

// Starts `fake_llm_serve wire KEY`; resolves { url, done } where done() closes its stdin
// and resolves with its exit code and last line.
function startFake(bin, wire) {
  const child = spawn(bin, [wire, KEY], { stdio: ["pipe", "pipe", "inherit"] });
  const lines = createInterface({ input: child.stdout });
  const seen = [];
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    lines.on("line", (l) => {
      seen.push(l);
      if (seen.length === 1)
        resolve({
          url: l,
          done: () =>
            new Promise((res) => {
              child.on("exit", (code) => res({ code, last: seen[seen.length - 1] }));
              child.stdin.end();
            }),
        });
    });
  });
}

const schema = {
  type: "object",
  additionalProperties: false,
  required: ["narrative"],
  properties: { narrative: { type: "string" } },
};

async function checkOpenAI(bin) {
  const fake = await startFake(bin, "openai");
  const client = new OpenAI({ apiKey: KEY, baseURL: fake.url, maxRetries: 0 });
  const text = await client.chat.completions.create({
    model: "gpt-4o-mini",
    messages: [
      { role: "system", content: "Be brief." },
      { role: "user", content: "Say something." },
    ],
    max_completion_tokens: 50,
  });
  assert.equal(text.object, "chat.completion");
  assert.equal(typeof text.choices[0].message.content, "string");
  assert.equal(text.choices[0].finish_reason, "stop");
  assert.ok(text.usage.prompt_tokens > 0);
  const structured = await client.chat.completions.create({
    model: "gpt-4o-mini",
    messages: [{ role: "user", content: "Explain." }],
    response_format: { type: "json_schema", json_schema: { name: "narrative", schema, strict: true } },
  });
  assert.equal(typeof JSON.parse(structured.choices[0].message.content).narrative, "string");
  const stream = await client.chat.completions.create({
    model: "gpt-4o-mini",
    messages: [{ role: "user", content: "Explain." }],
    response_format: { type: "json_schema", json_schema: { name: "narrative", schema, strict: true } },
    stream: true,
    stream_options: { include_usage: true },
  });
  let joined = "", usage = null;
  for await (const chunk of stream) {
    assert.equal(chunk.object, "chat.completion.chunk");
    joined += chunk.choices[0]?.delta?.content ?? "";
    if (chunk.usage) usage = chunk.usage;
  }
  assert.equal(typeof JSON.parse(joined).narrative, "string");
  assert.ok(usage && usage.completion_tokens > 0);
  const { code, last } = await fake.done();
  assert.equal(code, 0, `the fake OpenAI saw malformed requests from the SDK: ${last}`);
  console.log(`openai: 3 calls parsed; fake: ${last}`);
}

async function checkAnthropic(bin) {
  const fake = await startFake(bin, "anthropic");
  const client = new Anthropic({ apiKey: KEY, baseURL: fake.url, maxRetries: 0 });
  const text = await client.messages.create({
    model: "claude-3-5-haiku-latest",
    max_tokens: 50,
    system: "Be brief.",
    messages: [{ role: "user", content: "Say something." }],
  });
  assert.equal(text.type, "message");
  assert.equal(text.content[0].type, "text");
  assert.ok(text.usage.input_tokens > 0);
  const tool = await client.messages.create({
    model: "claude-3-5-haiku-latest",
    max_tokens: 200,
    messages: [{ role: "user", content: "Explain." }],
    tools: [{ name: "narrative", description: "the answer", input_schema: schema }],
    tool_choice: { type: "tool", name: "narrative" },
  });
  assert.equal(tool.stop_reason, "tool_use");
  const use = tool.content.find((b) => b.type === "tool_use");
  assert.equal(typeof use.input.narrative, "string");
  const stream = client.messages.stream({
    model: "claude-3-5-haiku-latest",
    max_tokens: 200,
    messages: [{ role: "user", content: "Explain." }],
    tools: [{ name: "narrative", description: "the answer", input_schema: schema }],
    tool_choice: { type: "tool", name: "narrative" },
  });
  const final = await stream.finalMessage();
  const streamed = final.content.find((b) => b.type === "tool_use");
  assert.equal(typeof streamed.input.narrative, "string");
  const { code, last } = await fake.done();
  assert.equal(code, 0, `the fake Anthropic saw malformed requests from the SDK: ${last}`);
  console.log(`@anthropic-ai/sdk: 3 calls parsed; fake: ${last}`);
}

const bin = process.argv[2];
if (!bin) {
  console.error("usage: node check_sdk.mjs FAKE_SERVE_BINARY");
  process.exit(2);
}
await checkOpenAI(bin);
await checkAnthropic(bin);
