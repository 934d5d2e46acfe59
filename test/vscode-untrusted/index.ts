// The extensionTestsPath module of the Restricted Mode suite: test/host/runCodeServer.mjs opens
// the workspace without trusting it and loads this file inside the extension host.
import { runSuite } from '../vscode/suite';

export function run(): Promise<void> {
  return runSuite(__dirname);
}
