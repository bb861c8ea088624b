// The passendezorg extension for VS Code. The TextMate grammar (syntaxes/) colours rule files;
// this starts the language server, `passendezorg lsp`, for diagnostics as you type, hover,
// go to definition, references, completion and formatting.
"use strict";

const vscode = require("vscode");
const { LanguageClient } = require("vscode-languageclient/node");

let client;

function serverCommand() {
  const configured = vscode.workspace.getConfiguration("passendezorg").get("server.command");
  const words = Array.isArray(configured) && configured.length > 0 ? configured : ["passendezorg", "lsp"];
  return { command: words[0], args: words.slice(1) };
}

async function start() {
  const server = serverCommand();
  client = new LanguageClient(
    "passendezorg",
    "passendezorg",
    { command: server.command, args: server.args },
    { documentSelector: [{ scheme: "file", language: "passendezorg" }] },
  );
  try {
    await client.start();
  } catch (error) {
    client = undefined;
    const shown = [server.command, ...server.args].join(" ");
    vscode.window.showErrorMessage(
      `passendezorg: the language server (${shown}) did not start: ${error.message}. ` +
        'Install it with pip install "passendezorg[lsp]", or set passendezorg.server.command ' +
        'to the command that runs it (such as ["/path/to/.venv/bin/passendezorg", "lsp"]).',
    );
  }
}

async function stop() {
  if (client) {
    const running = client;
    client = undefined;
    await running.stop();
  }
}

async function activate(context) {
  context.subscriptions.push(
    vscode.commands.registerCommand("passendezorg.restartServer", async () => {
      await stop();
      await start();
    }),
    vscode.workspace.onDidChangeConfiguration(async (event) => {
      if (event.affectsConfiguration("passendezorg.server.command")) {
        await stop();
        await start();
      }
    }),
    { dispose: () => stop() },
  );
  await start();
}

function deactivate() {
  return stop();
}

module.exports = { activate, deactivate };
