/**
 * A tiny terminal: replays text with the escape sequences ribo's live view
 * uses (CR, LF, cursor up, clear to end of screen, colours) and returns the
 * lines left on screen, as a user would see them when the build ends.
 */
export function finalScreen(output: string): string[] {
  const lines: string[] = [''];
  let row = 0;
  let col = 0;
  const put = (text: string) => {
    const line = lines[row] ?? '';
    lines[row] = line.slice(0, col).padEnd(col) + text + line.slice(col + text.length);
    col += text.length;
  };
  // eslint-disable-next-line no-control-regex
  const tokens = output.match(/\x1b\[[0-9;?]*[A-Za-z]|\r|\n|[^\x1b\r\n]+|\x1b/g) ?? [];
  for (const token of tokens) {
    if (token === '\n') {
      row += 1;
      col = 0;
      lines[row] ??= '';
    } else if (token === '\r') col = 0;
    else if (token.startsWith('\x1b[')) {
      const n = Number(token.slice(2, -1) || '1');
      const op = token.at(-1);
      if (op === 'A') row = Math.max(0, row - n);
      else if (op === 'J') {
        lines[row] = (lines[row] ?? '').slice(0, col);
        lines.length = row + 1;
      } else if (op === 'K') lines[row] = (lines[row] ?? '').slice(0, col);
      // Colours (m) and others change no text.
    } else if (token !== '\x1b') put(token);
  }
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines;
}
