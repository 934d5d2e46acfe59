// Placeholder until the extension layer lands.
export function activate(): void {}
export function deactivate(): void {}
