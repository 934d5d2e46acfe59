import * as vscode from 'vscode';

/** Whether the workspace is trusted; cooking runs model code and writes files, so it needs trust. */
export function isTrusted(): boolean {
  return vscode.workspace.isTrusted;
}

/** Tells the user why cooking is off and offers the trust dialog. */
export async function explainRestrictedMode(): Promise<void> {
  const manage = 'Manage Workspace Trust';
  const choice = await vscode.window.showWarningMessage(
    'Model Soups: cooking is off in Restricted Mode. It loads the models of this workspace into a background process and writes soups into it, so it needs a trusted workspace. The Ingredients view stays available read-only.',
    manage,
  );
  if (choice === manage) await vscode.commands.executeCommand('workbench.trust.manage');
}
