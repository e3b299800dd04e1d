// Amigo for VS Code: starts `amigo lsp`, adds the edit/fix/accept/reject/retry/undo commands.
// Proposals arrive as workspace/applyEdit with a change annotation that needs confirmation, so
// VS Code opens its refactor preview; applying or discarding it is the accept or reject.
// A status bar item shows the server state, model and decoding mode (from `amigo doctor --json`).
// Inline suggestions (ghost text) come from the server's textDocument/inlineCompletion through
// the language client's proposed inline completion feature; accepting one runs the item's command,
// which tells the server (amigo.completionAccepted).
import { execFile } from "node:child_process";
import * as vscode from "vscode";
import {
  ExecuteCommandRequest,
  LanguageClient,
  LanguageClientOptions,
  ServerOptions,
  State,
  TransportKind,
} from "vscode-languageclient/node";
import {
  describeResult,
  DoctorReport,
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
} from "./settings";

let client: LanguageClient | undefined;
let lastProposal: string | undefined;
let statusItem: vscode.StatusBarItem | undefined;
let doctorOutput: vscode.OutputChannel | undefined;
// How often the status bar asks again: a model server started or stopped later shows up.
const STATUS_REFRESH_MS = 60_000;

function settings(): vscode.WorkspaceConfiguration {
  return vscode.workspace.getConfiguration("amigo");
}

async function askInstruction(): Promise<string | undefined> {
  return vscode.window.showInputBox({
    prompt: "What should Amigo change?",
    placeHolder: "e.g. add a function to sort users by age",
    ignoreFocusOut: true,
  });
}

async function runServerCommand(command: string, args: unknown[]): Promise<void> {
  if (!client) {
    vscode.window.showErrorMessage("Amigo: the language server is not running; run 'Amigo: Restart Language Server'.");
    return;
  }
  const result = (await client.sendRequest(ExecuteCommandRequest.type, { command, arguments: args })) as
    | Record<string, unknown>
    | undefined;
  if (result && typeof result.id === "string") {
    lastProposal = result.id;
  }
  const message = describeResult(result);
  if (message) {
    vscode.window.showInformationMessage(message);
  }
}

function toRange(r: vscode.Range) {
  return {
    start: { line: r.start.line, character: r.start.character },
    end: { line: r.end.line, character: r.end.character },
  };
}

async function editSelection(): Promise<void> {
  const editor = vscode.window.activeTextEditor;
  if (!editor) {
    vscode.window.showWarningMessage("Amigo: open a file and select the code to change.");
    return;
  }
  const instruction = await askInstruction();
  if (!instruction) {
    return;
  }
  await runServerCommand(
    "amigo.edit",
    editArguments(editor.document.uri.toString(), toRange(editor.selection), instruction),
  );
}

async function fixThisBug(): Promise<void> {
  const editor = vscode.window.activeTextEditor;
  if (!editor) {
    return;
  }
  const sel = editor.selection;
  const diagnostics = vscode.languages
    .getDiagnostics(editor.document.uri)
    .filter((d) => d.range.intersection(new vscode.Range(sel.start.line, 0, sel.end.line + 1, 0)))
    .map((d) => ({ range: toRange(d.range), message: d.message, severity: lspSeverity(d.severity), source: d.source }));
  await runServerCommand("amigo.fix", fixArguments(editor.document.uri.toString(), toRange(sel), diagnostics));
}

async function withLast(command: string): Promise<void> {
  if (!lastProposal) {
    vscode.window.showWarningMessage("Amigo: no proposal yet; run 'Amigo: Edit Selection with Instruction' first.");
    return;
  }
  await runServerCommand(command, [{ id: lastProposal }]);
}

function startClient(context: vscode.ExtensionContext): LanguageClient {
  const { command, args } = serverCommand(settings());
  const serverOptions: ServerOptions = { command, args, transport: TransportKind.stdio };
  const clientOptions: LanguageClientOptions = {
    documentSelector: [{ scheme: "file" }],
    initializationOptions: serverSettings(settings()),
    synchronize: { configurationSection: "amigo" },
    middleware: {
      // Code actions carry amigo.edit without an instruction: ask for it here.
      executeCommand: async (cmd, cmdArgs, next) => {
        if (needsInstruction(cmd, cmdArgs)) {
          const instruction = await askInstruction();
          if (!instruction) {
            return undefined;
          }
          cmdArgs = withInstruction(cmdArgs, instruction);
        }
        const result = await next(cmd, cmdArgs);
        if (result && typeof (result as Record<string, unknown>).id === "string") {
          lastProposal = (result as Record<string, unknown>).id as string;
        }
        return result;
      },
      // A slow model's first words come early (`more`): show them, then ask again for the rest,
      // which the server is still generating (VS Code asks again only when the person types).
      provideInlineCompletionItems: async (document, position, context, token, next) => {
        const result = await next(document, position, context, token);
        const items = Array.isArray(result) ? result : result?.items ?? [];
        if (suggestionHasMore(items) && !token.isCancellationRequested) {
          setTimeout(() => void vscode.commands.executeCommand("editor.action.inlineSuggest.trigger"), 0);
        }
        return result;
      },
      workspace: {
        // Answer workspace/configuration with the same mapped object the server got at start.
        configuration: (params) =>
          params.items.map((item) => (item.section === "amigo" ? serverSettings(settings()) : null)),
      },
    },
  };
  const c = new LanguageClient("amigo", "Amigo", serverOptions, clientOptions);
  c.registerProposedFeatures(); // vscode-languageclient 9: inline completion (LSP 3.18) is a proposed feature
  context.subscriptions.push(c);
  return c;
}

/** Run `amigo doctor` (as this editor's server would see the configuration); resolves with
 *  its standard output, or rejects with what went wrong (amigo missing, ...). Exit 1 (server
 *  down) still has a report on standard output. */
function runDoctor(json: boolean): Promise<string> {
  const { command, args } = doctorCommand(settings(), json);
  const cwd = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
  return new Promise((resolve, reject) => {
    execFile(command, args, { cwd, env: { ...process.env, ...doctorEnv(settings()) }, timeout: 90_000 },
      (error, stdout, stderr) => {
        if (stdout.trim()) {
          resolve(stdout);
        } else {
          reject(new Error(stderr.trim() || `${command} ${args.join(" ")}: ${error?.message ?? "no output"}`));
        }
      });
  });
}

async function refreshStatus(): Promise<void> {
  if (!statusItem) {
    return;
  }
  const running = client?.state === State.Running || client?.state === State.Starting;
  let report: DoctorReport | undefined;
  let problem: string | undefined;
  try {
    report = JSON.parse(await runDoctor(true)) as DoctorReport;
  } catch (err) {
    problem = `amigo doctor failed: ${(err as Error).message}`;
  }
  const { text, tooltip } = statusText(running, report, problem);
  statusItem.text = text;
  statusItem.tooltip = tooltip;
}

async function showDoctor(): Promise<void> {
  doctorOutput ??= vscode.window.createOutputChannel("Amigo Doctor");
  doctorOutput.clear();
  try {
    doctorOutput.append(await runDoctor(false));
  } catch (err) {
    doctorOutput.appendLine((err as Error).message);
    doctorOutput.appendLine("Is `amigo` on PATH? Set amigo.serverCommand to its full path otherwise.");
  }
  doctorOutput.show(true);
  await refreshStatus();
}

function startStatus(context: vscode.ExtensionContext): void {
  statusItem = vscode.window.createStatusBarItem("amigo.status", vscode.StatusBarAlignment.Right, 100);
  statusItem.name = "Amigo";
  statusItem.command = "amigo.showDoctor";
  statusItem.text = "$(sync~spin) Amigo";
  statusItem.show();
  const timer = setInterval(() => void refreshStatus(), STATUS_REFRESH_MS);
  context.subscriptions.push(statusItem, { dispose: () => clearInterval(timer) });
  context.subscriptions.push(
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration("amigo")) {
        void refreshStatus();
      }
    }),
  );
}

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  startStatus(context);
  client = startClient(context);
  const reg = (name: string, fn: () => Promise<void>) =>
    context.subscriptions.push(vscode.commands.registerCommand(name, fn));
  reg("amigo.editSelection", editSelection);
  reg("amigo.fixThisBug", fixThisBug);
  reg("amigo.acceptLast", () => withLast("amigo.accept"));
  reg("amigo.rejectLast", () => withLast("amigo.reject"));
  reg("amigo.retryLast", () => withLast("amigo.retry"));
  reg("amigo.undoLast", () => runServerCommand("amigo.undo", []));
  reg("amigo.showDoctor", showDoctor);
  reg("amigo.restartServer", async () => {
    await client?.stop();
    client = startClient(context);
    client.onDidChangeState(() => void refreshStatus());
    await client.start();
  });
  client.onDidChangeState(() => void refreshStatus());
  await client.start();
}

export async function deactivate(): Promise<void> {
  await client?.stop();
}
