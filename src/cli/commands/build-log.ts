import { BuildLogs } from '../../build/progress/build-logs.js';
import type { BuildEvent } from '../../build/progress/events.js';
import { UsageError } from '../../errors.js';
import type { CommandModule } from '../command.js';
import { formatTable } from '../format.js';
import { formatDuration } from '../progress/format.js';
import { PlainRenderer } from '../progress/plain.js';
import { storeRoot, type GlobalOptions } from '../session.js';

/** How a kept build ended, from its last events. */
function outcome(events: BuildEvent[]): { status: string; duration: string; image: string } {
  const last = [...events].reverse().find((e) => e.type === 'build-done' || e.type === 'build-failed');
  if (last?.type === 'build-done') return { status: 'done', duration: formatDuration(last.durationMs), image: last.tags[0] ?? last.image.slice(0, 19) };
  if (last?.type === 'build-failed') return { status: 'failed', duration: formatDuration(last.durationMs), image: '' };
  return { status: 'unfinished', duration: '', image: '' };
}

function parseStep(value: unknown): number {
  const step = Number(String(value).replace(/^#/, ''));
  if (!Number.isInteger(step) || step < 1) throw new UsageError(`"${value}" is not a step number; steps are numbered as the build printed them (#1, #2, …); \`ribo build-log\` lists them.`);
  return step;
}

export const buildLogCommand: CommandModule = {
  name: 'build-log',
  usage: 'build-log [build] [step]',
  describe: 'Show the log of a recent build, or the whole output of one of its steps',
  needsNamespace: false,
  builder: (y) =>
    y
      .positional('build', { type: 'string', describe: 'Build id (or a unique start of one) as ribo build printed it; default: the last build' })
      .positional('step', { type: 'string', describe: 'Step number (#N in the build output): print only that step\'s output' })
      .option('last', { type: 'boolean', default: false, describe: 'The last build (then the only argument is the step)' })
      .option('list', { type: 'boolean', default: false, describe: 'List the kept builds' }),
  handler: async (argv, env) => {
    const logs = new BuildLogs(storeRoot(argv as GlobalOptions, env));
    if (argv.list) {
      const rows = [];
      for (const id of (await logs.ids()).reverse()) {
        const events = await logs.events(id);
        const start = events.find((e) => e.type === 'build-start');
        const steps = events.filter((e) => e.type === 'step-start' || e.type === 'step-cached').length;
        const { status, duration, image } = outcome(events);
        rows.push([id, status, duration, String(steps), image, start?.type === 'build-start' ? start.dockerfile : '']);
      }
      process.stdout.write(formatTable(['BUILD ID', 'STATUS', 'TIME', 'STEPS', 'IMAGE', 'DOCKERFILE'], rows));
      return 0;
    }
    const positionals = [argv.build, argv.step].filter((v) => v !== undefined).map(String);
    if (argv.last && positionals.length > 1) throw new UsageError(`With --last, name at most a step (got ${positionals.join(' ')}).`);
    const id = await logs.resolve(argv.last ? undefined : positionals[0]);
    const stepArg = argv.last ? positionals[0] : positionals[1];
    const events = await logs.events(id);
    if (stepArg !== undefined) {
      const step = parseStep(stepArg);
      if (!events.some((e) => (e.type === 'step-start' || e.type === 'step-cached') && e.step === step)) {
        const count = events.filter((e) => e.type === 'step-start' || e.type === 'step-cached').length;
        throw new UsageError(`Build ${id} has no step #${step}; it has steps #1 to #${count}. \`ribo build-log ${id}\` shows them all.`);
      }
      const log = await logs.stepLog(id, step);
      if (log) for await (const chunk of log) process.stdout.write(chunk as Buffer);
      else process.stderr.write(`Step #${step} of build ${id} printed nothing.\n`);
      return 0;
    }
    // The whole build as plain progress lines, each step's output in one piece before its result.
    const renderer = new PlainRenderer(process.stdout);
    for (const event of events) {
      if (event.type === 'step-done' || event.type === 'step-failed') {
        const log = await logs.stepLog(id, event.step);
        if (log) {
          log.setEncoding('utf8');
          for await (const data of log) renderer.report({ type: 'step-log', time: event.time, step: event.step, stream: 'stdout', data: data as string });
        }
      }
      renderer.report(event);
    }
    if (outcome(events).status === 'unfinished') process.stdout.write(`Build ${id} did not finish (it is still running, or was stopped).\n`);
    return 0;
  },
};
