// Pure helpers (no `vscode` import) so Node's test runner can check them without VS Code.

/** The settings the extension contributes under "amigo.*" that the server understands
 *  (amigo_lsp/settings.py CONFIG_KEYS; tests/lsp/test_vscode_settings.py keeps the three in step). */
export const SERVER_KEYS = [
  "endpoint",
  "model",
  "adapter",
  "editFormat",
  "decoding",
  "contextBudget",
  "maxTokens",
  "temperature",
  "connectTimeout",
  "readTimeout",
] as const;

export type ServerKey = (typeof SERVER_KEYS)[number];

/** The "amigo.completion.*" settings the server understands (inline suggestions). */
export const COMPLETION_KEYS = ["enabled", "fim", "debounceMs", "maxTokens", "maxLines", "latencyMs", "contextBudget", "rejectAfterS", "inStrings", "classicItems"] as const;

/** Anything with VS Code's WorkspaceConfiguration.get shape. */
export interface SettingsReader {
  get<T>(key: string): T | undefined;
}

/** Settings -> the server's initializationOptions / workspace/configuration "amigo" object.
 *  Unset (null/undefined) values are left out so amigo.toml and AMIGO_* stay in charge. */
export function serverSettings(config: SettingsReader): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of SERVER_KEYS) {
    const value = config.get<unknown>(key);
    if (value !== null && value !== undefined && value !== "") {
      out[key] = value;
    }
  }
  const completion = config.get<Record<string, unknown>>("completion");
  if (completion && typeof completion === "object") {
    const picked: Record<string, unknown> = {};
    for (const key of COMPLETION_KEYS) {
      const value = completion[key];
      if (value !== null && value !== undefined && value !== "") {
        picked[key] = value;
      }
    }
    if (Object.keys(picked).length > 0) {
      out.completion = picked;
    }
  }
  out.review = "applyEdit";
  return out;
}

/** The command line that starts the server: ["amigo", "lsp"] unless configured. */
export function serverCommand(config: SettingsReader): { command: string; args: string[] } {
  const raw = config.get<unknown>("serverCommand");
  const parts = Array.isArray(raw) ? raw.filter((p): p is string => typeof p === "string" && p.length > 0) : [];
  if (parts.length === 0) {
    return { command: "amigo", args: ["lsp"] };
  }
  return { command: parts[0], args: parts.slice(1) };
}

/** The `amigo doctor --json` command line: the server command with `doctor` in place of `lsp`
 *  (so a configured path to amigo is used), else `amigo doctor`. */
export function doctorCommand(config: SettingsReader, json: boolean): { command: string; args: string[] } {
  const { command, args } = serverCommand(config);
  const base = args.length > 0 && args[args.length - 1] === "lsp" ? { command, args: args.slice(0, -1) } : { command: "amigo", args: [] };
  return { command: base.command, args: [...base.args, "doctor", ...(json ? ["--json"] : [])] };
}

/** The editor's settings as AMIGO_* variables, so `amigo doctor` reports what this editor's
 *  server uses (the environment layer of Amigo's configuration: editFormat -> AMIGO_EDIT_FORMAT). */
export function doctorEnv(config: SettingsReader): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(serverSettings(config))) {
    if (key === "review") {
      continue;
    }
    env["AMIGO_" + key.replace(/[A-Z]/g, (c) => "_" + c).toUpperCase()] = String(value);
  }
  return env;
}

/** What `amigo doctor --json` prints (the fields the status bar shows). */
export interface DoctorReport {
  server: "up" | "down";
  model: string;
  adapter?: string | null;
  decoding: string;
  decoding_in_use: "free" | "constrained";
  endpoint: string;
  server_error?: string | null;
}

/** The status bar item: text and tooltip, from the language client's state and the doctor report. */
export function statusText(
  clientRunning: boolean,
  report: DoctorReport | undefined,
  problem?: string,
): { text: string; tooltip: string } {
  const click = "Click: the full `amigo doctor` report.";
  if (!clientRunning) {
    return { text: "$(circle-slash) Amigo: stopped", tooltip: `The Amigo language server is not running. ${click}` };
  }
  if (!report) {
    return problem
      ? { text: "$(warning) Amigo", tooltip: `${problem} ${click}` }
      : { text: "$(sync~spin) Amigo", tooltip: "Asking `amigo doctor`..." };
  }
  const model = report.adapter ? `${report.model}+${report.adapter}` : report.model;
  if (report.server === "down") {
    return { text: `$(debug-disconnect) Amigo: server down`, tooltip: `${report.server_error ?? report.endpoint} ${click}` };
  }
  const mode = report.decoding === "auto" ? `auto: ${report.decoding_in_use}` : report.decoding_in_use;
  return { text: `$(check) Amigo: ${model} · ${mode}`, tooltip: `${report.endpoint}, decoding ${mode}. ${click}` };
}

export interface Position {
  line: number;
  character: number;
}
export interface Range {
  start: Position;
  end: Position;
}

/** Arguments of the server's amigo.edit command. */
export function editArguments(uri: string, range: Range, instruction: string): [Record<string, unknown>] {
  const text = instruction.trim();
  if (text.length === 0) {
    throw new Error("the instruction is empty; say what to change");
  }
  return [{ uri, range, instruction: text }];
}

/** Arguments of amigo.fix: the diagnostics' messages and ranges go to the model. */
export function fixArguments(
  uri: string,
  range: Range,
  diagnostics: { range: Range; message: string; severity?: number; source?: string }[],
): [Record<string, unknown>] {
  return [
    {
      uri,
      range,
      diagnostics: diagnostics.map((d) => ({
        range: d.range,
        message: d.message,
        severity: d.severity,
        source: d.source,
      })),
    },
  ];
}

/** A code action's amigo.edit arguments lack the instruction: add the one the person typed. */
export function withInstruction(args: unknown[], instruction: string): unknown[] {
  const first = (args[0] ?? {}) as Record<string, unknown>;
  return [{ ...first, instruction: instruction.trim() }, ...args.slice(1)];
}

/** Whether a server command still needs the person to type an instruction. */
export function needsInstruction(command: string, args: unknown[]): boolean {
  if (command !== "amigo.edit") {
    return false;
  }
  const first = args[0] as Record<string, unknown> | undefined;
  return !first || typeof first.instruction !== "string" || first.instruction.trim() === "";
}

/** VS Code severities count from 0 (Error); LSP's from 1. */
export function lspSeverity(vscodeSeverity: number): number {
  return vscodeSeverity + 1;
}

/** What to tell the person about an amigo.* command result. */
export function describeResult(result: Record<string, unknown> | undefined): string | undefined {
  if (!result) {
    return undefined;
  }
  if (result.cancelled) {
    return "Amigo: generation cancelled.";
  }
  if (result.applied === true) {
    return "Amigo: applied. Run 'Amigo: Undo Last Edit' to revert.";
  }
  if (result.stale) {
    return undefined; // the server already explained (window/showMessage)
  }
  if (result.applied === false && typeof result.reason === "string") {
    return `Amigo: not applied (${result.reason}). Run 'Amigo: Retry Proposal' for another answer.`;
  }
  return undefined;
}

/** Whether an inline suggestion holds only the words ready so far (the server's `more` in the
 *  item's command arguments): the rest is being generated, and asking again at the same place gets it. */
export function suggestionHasMore(items: ReadonlyArray<{ command?: { arguments?: unknown[] } }>): boolean {
  return items.some((item) => {
    const first = item.command?.arguments?.[0];
    return typeof first === "object" && first !== null && (first as Record<string, unknown>).more === true;
  });
}
