// The extensionTestsPath module of the Restricted Mode suite: test/host/runCodeServer.mjs opens
// the workspace without trusting it and loads this file inside the extension host.
import Mocha from 'mocha';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

export function run(): Promise<void> {
  const mocha = new Mocha({ ui: 'bdd', timeout: 120_000, color: false, reporter: 'spec' });
  const files = readdirSync(__dirname)
    .filter((name) => name.endsWith('.test.js'))
    .sort();
  for (const name of files) mocha.addFile(join(__dirname, name));

  return new Promise<void>((resolve, reject) => {
    try {
      const runner = mocha.run((failures) => {
        // The hosts print the extension host's console line by line: keep the counts alone on the
        // last line so runCodeServer.mjs (and a human) can find them.
        const { passes = 0, pending = 0 } = runner.stats ?? {};
        console.log(`${passes} passed, ${failures} failed${pending > 0 ? `, ${pending} pending` : ''}`);
        if (files.length === 0) reject(new Error(`no *.test.js files in ${__dirname}`));
        else if (failures > 0) reject(new Error(`${failures} test(s) failed`));
        else resolve();
      });
    } catch (err) {
      console.error(err);
      reject(err instanceof Error ? err : new Error(String(err)));
    }
  });
}
