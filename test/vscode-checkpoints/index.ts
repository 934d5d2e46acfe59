// The extensionTestsPath module of the checkpoint workspace suite: test/host/runCodeServer.mjs
// opens a copy of test/fixtures/fashion-ckpt and loads this file inside the extension host.
import { runSuite } from '../vscode/suite';

export function run(): Promise<void> {
  return runSuite(__dirname);
}
