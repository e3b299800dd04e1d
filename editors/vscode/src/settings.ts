// Pure helpers (no `vscode` import) so Node's test runner can check them without VS Code.

/** The settings the extension contributes under "amigo.*" that the server understands. */
export const SERVER_KEYS = [
  "endpoint",
  "model",
  "editFormat",
  "contextBudget",
  "maxTokens",
  "temperature",
] as const;

export type ServerKey = (typeof SERVER_KEYS)[number];

/** The "amigo.completion.*" settings the server understands (inline suggestions). */
export const COMPLETION_KEYS = ["enabled", "fim", "debounceMs", "maxTokens", "maxLines", "contextBudget", "rejectAfterS", "inStrings"] as const;

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
