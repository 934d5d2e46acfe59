import { vscodeApi } from './vscodeApi';

/**
 * The results panel's "Re-cook" button: asks the host to cook this soup again from its
 * report.json (the host runs the `modelSoups.recook` command, which checks every ingredient's
 * SHA-256 first and writes a new soup folder beside this one).
 */
export function recookButton(): HTMLElement {
  const b = document.createElement('vscode-button');
  b.textContent = 'Re-cook';
  b.setAttribute('appearance', 'secondary');
  b.title = 'Cook this soup again from its report (same method, ingredients, options and datasets) after checking that no ingredient changed';
  b.addEventListener('click', () => vscodeApi.postMessage({ type: 'recook' }));
  return b;
}
