// The extensionTestsPath module of the installed-extension check: test/host/runCodeServer.mjs
// packages the .vsix (`npm run package`), installs it into code-server's extensions folder and
// opens the workspace with no development copy of the extension, then loads this file.
import { runSuite } from '../vscode/suite';

export function run(): Promise<void> {
  return runSuite(__dirname);
}
