// The extensionTestsPath module: VS Code (desktop through @vscode/test-electron, or code-server
// through test/host/runCodeServer.mjs) loads this file inside the extension host and awaits run().
import { runSuite } from './suite';

export function run(): Promise<void> {
  return runSuite(__dirname);
}
