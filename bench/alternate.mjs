// Runs commands in turn, round after round (A B C A B C ...), so a change of
// load on a shared machine hits every contender alike; prints each one's
// median and minimum wall time, its ratio to the last command, and the load.
// Usage: node bench/alternate.mjs ROUNDS WARMUP NAME=COMMAND... (the last is the reference)
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const [rounds, warmup, ...specs] = process.argv.slice(2);
const commands = specs.map((spec) => {
  const at = spec.indexOf('=');
  return { name: spec.slice(0, at), command: spec.slice(at + 1), times: [] };
});
const load = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
const loadBefore = load();
for (let round = -Number(warmup); round < Number(rounds); round++) {
  for (const c of commands) {
    const start = process.hrtime.bigint();
    const result = spawnSync('sh', ['-c', c.command], { stdio: ['ignore', 'ignore', 'pipe'] });
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    if (result.status !== 0) {
      console.error(`${c.name} failed (exit ${result.status}): ${result.stderr}`);
      process.exit(1);
    }
    if (round >= 0) c.times.push(ms);
  }
}
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const reference = median(commands.at(-1).times);
console.log(`${rounds} alternating rounds; load average ${loadBefore} before, ${load()} after`);
console.log(`  ${'command'.padEnd(24)} median ms  min ms   median / ${commands.at(-1).name}`);
for (const c of commands) {
  console.log(`  ${c.name.padEnd(24)} ${median(c.times).toFixed(1).padStart(9)} ${Math.min(...c.times).toFixed(1).padStart(7)}   ${(median(c.times) / reference).toFixed(2)}x`);
}
