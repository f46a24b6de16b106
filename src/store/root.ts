import path from 'node:path';

/**
 * Where the store lives: --root, else $RIBO_ROOT, else $XDG_DATA_HOME/ribo
 * (only if absolute, as the XDG spec requires), else ~/.local/share/ribo.
 */
export function resolveStoreRoot(options: { flag?: string; env: NodeJS.ProcessEnv; home: string }): string {
  if (options.flag) return path.resolve(options.flag);
  const fromEnv = options.env['RIBO_ROOT'];
  if (fromEnv) return path.resolve(fromEnv);
  const xdg = options.env['XDG_DATA_HOME'];
  if (xdg && path.isAbsolute(xdg)) return path.join(xdg, 'ribo');
  return path.join(options.home, '.local', 'share', 'ribo');
}
