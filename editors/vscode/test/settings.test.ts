// Node's test runner (node --test out/test/): the pure parts of the extension.
import { strict as assert } from "node:assert";
import { test } from "node:test";
import {
  describeResult,
  doctorCommand,
  doctorEnv,
  editArguments,
  fixArguments,
  lspSeverity,
  needsInstruction,
  serverCommand,
  serverSettings,
  statusText,
  suggestionHasMore,
  withInstruction,
} from "../src/settings";

const reader = (values: Record<string, unknown>) => ({ get: <T>(key: string) => values[key] as T | undefined });
const range = { start: { line: 16, character: 0 }, end: { line: 18, character: 0 } };

test("settings map to the server's keys, unset values left out", () => {
  const out = serverSettings(reader({ endpoint: "http://gpu:8000/v1", model: null, editFormat: "blocks", maxTokens: 512, contextBudget: 0 }));
  assert.deepEqual(out, { endpoint: "http://gpu:8000/v1", editFormat: "blocks", maxTokens: 512, contextBudget: 0, review: "applyEdit" });
});

test("completion settings go in their own object, unset ones left out", () => {
  const out = serverSettings(reader({ completion: { enabled: true, debounceMs: 200, fim: null, maxTokens: undefined } }));
  assert.deepEqual(out, { completion: { enabled: true, debounceMs: 200 }, review: "applyEdit" });
  assert.deepEqual(serverSettings(reader({ completion: { fim: null } })), { review: "applyEdit" });
});

test("the server command defaults to `amigo lsp` and splits a configured one", () => {
  assert.deepEqual(serverCommand(reader({})), { command: "amigo", args: ["lsp"] });
  assert.deepEqual(serverCommand(reader({ serverCommand: ["python3", "-m", "amigo_lsp"] })), {
    command: "python3",
    args: ["-m", "amigo_lsp"],
  });
  assert.deepEqual(serverCommand(reader({ serverCommand: [] })), { command: "amigo", args: ["lsp"] });
});

test("amigo.edit arguments carry uri, range and the trimmed instruction", () => {
  assert.deepEqual(editArguments("file:///r/users.py", range, "  add a docstring "), [
    { uri: "file:///r/users.py", range, instruction: "add a docstring" },
  ]);
  assert.throws(() => editArguments("file:///r/users.py", range, "   "), /instruction is empty/);
});

test("amigo.fix arguments carry the diagnostics' messages and ranges", () => {
  const [args] = fixArguments("file:///r/a.py", range, [{ range, message: "NameError: x", severity: 1, source: "pyright" }]);
  assert.deepEqual(args.diagnostics, [{ range, message: "NameError: x", severity: 1, source: "pyright" }]);
  assert.equal(lspSeverity(0), 1);
});

test("code actions without an instruction ask for one; others pass through", () => {
  assert.equal(needsInstruction("amigo.edit", [{ uri: "u", range }]), true);
  assert.equal(needsInstruction("amigo.edit", [{ uri: "u", range, instruction: "x" }]), false);
  assert.equal(needsInstruction("amigo.fix", [{ uri: "u", range }]), false);
  assert.deepEqual(withInstruction([{ uri: "u", range }], " sort by age "), [{ uri: "u", range, instruction: "sort by age" }]);
});

test("results become short messages; stale ones are left to the server's message", () => {
  assert.match(describeResult({ applied: true }) ?? "", /Undo/);
  assert.match(describeResult({ applied: false, reason: "declined" }) ?? "", /Retry/);
  assert.equal(describeResult({ applied: false, stale: true, reason: "x" }), undefined);
  assert.match(describeResult({ cancelled: true }) ?? "", /cancelled/);
});

test("the doctor runs beside the configured server, with the editor's settings as AMIGO_* variables", () => {
  assert.deepEqual(doctorCommand(reader({}), true), { command: "amigo", args: ["doctor", "--json"] });
  assert.deepEqual(doctorCommand(reader({ serverCommand: ["/opt/amigo/bin/amigo", "lsp"] }), false), {
    command: "/opt/amigo/bin/amigo",
    args: ["doctor"],
  });
  assert.deepEqual(doctorCommand(reader({ serverCommand: ["python3", "-m", "amigo_lsp"] }), true).args, ["doctor", "--json"]);
  const env = doctorEnv(reader({ endpoint: "http://gpu:8000/v1", editFormat: "blocks", readTimeout: 30, decoding: null }));
  assert.deepEqual(env, { AMIGO_ENDPOINT: "http://gpu:8000/v1", AMIGO_EDIT_FORMAT: "blocks", AMIGO_READ_TIMEOUT: "30" });
});

test("the status bar shows server state, model and decoding mode", () => {
  const up = { server: "up", model: "smollm2", decoding: "auto", decoding_in_use: "constrained", endpoint: "http://x/v1" } as const;
  assert.equal(statusText(true, up).text, "$(check) Amigo: smollm2 · auto: constrained");
  assert.equal(statusText(true, { ...up, decoding: "free", decoding_in_use: "free", adapter: "a1" }).text, "$(check) Amigo: smollm2+a1 · free");
  const down = statusText(true, { ...up, server: "down", server_error: "cannot reach the model server: start it with `amigo serve`" });
  assert.match(down.text, /server down/);
  assert.match(down.tooltip, /amigo serve/);
  assert.match(statusText(false, up).text, /stopped/);
  assert.match(statusText(true, undefined, "amigo doctor failed: spawn amigo ENOENT").tooltip, /ENOENT/);
});

test("a suggestion of the words ready so far asks again for the rest; a whole one does not", () => {
  const item = (args: unknown[]) => ({ command: { arguments: args } });
  assert.equal(suggestionHasMore([item([{ id: "a1", accepted: "users, ", more: true }])]), true);
  assert.equal(suggestionHasMore([item([{ id: "a1" }])]), false);
  assert.equal(suggestionHasMore([{}, item(["a1", "users"])]), false);
  assert.equal(suggestionHasMore([]), false);
});
