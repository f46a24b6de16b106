import { transcriptParser, type TranscriptPacket } from '../../src/runtime/conmon-attach.js';

function parse(text: string): TranscriptPacket[] {
  const packets: TranscriptPacket[] = [];
  const feed = transcriptParser((p) => packets.push(p));
  for (const line of text.split('\n')) feed(line);
  return packets;
}

describe('socat -x transcript', () => {
  it('gives one packet per header, with its direction and exact bytes', () => {
    const packets = parse([
      '< 2026/12/03 13:15:53.000884244  length=6 from=0 to=5',
      ' 68 65 6c 6c 6f 0a',
      '> 2026/12/03 13:15:53.000900771  length=11 from=0 to=10',
      ' 02 6f 75 74 20 68 65 6c 6c 6f 0a',
      '> 2026/12/03 13:15:53.000900844  length=3 from=11 to=13',
      ' 03 0d 0a',
    ].join('\n'));
    expect(packets.map((p) => [p.direction, [...p.data]])).toEqual([
      ['<', [...Buffer.from('hello\n')]],
      ['>', [2, ...Buffer.from('out hello\n')]],
      ['>', [3, 13, 10]],
    ]);
  });

  it('reads a packet spread over several lines, stopping at its length', () => {
    const bytes = Array.from({ length: 20 }, (_, i) => i + 0x30);
    const hex = bytes.map((b) => b.toString(16).padStart(2, '0'));
    const packets = parse([
      '> 2026/12/03 13:15:53.000900771  length=20 from=0 to=19',
      ` ${hex.slice(0, 16).join(' ')}`,
      ` ${hex.slice(16).join(' ')}                 0123`,
    ].join('\n'));
    expect(packets).toHaveLength(1);
    expect([...packets[0]!.data]).toEqual(bytes);
  });
});
