/**
 * Every instruction and COPY option, as a user sees the result: the files
 * (content, mode, owner) inside the built image, read with `ribo run`, and the
 * image config read straight from the layout.
 */
import { execa } from 'execa';
import { blobPath, listLayer, makeContext, makeStore, readImage, removeStore, ribo, riboOk } from './harness.js';

const BASE = `FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
RUN mkdir -p /etc /home/app && echo 'root:x:0:0:root:/root:/bin/sh' > /etc/passwd && echo 'app:x:1234:2345::/home/app:/bin/sh' >> /etc/passwd \\
 && printf 'root:x:0:\\nappgrp:x:2345:\\nstaff:x:50:app\\n' > /etc/group
ONBUILD RUN echo "triggered in $(pwd)" > /onbuild.txt
ONBUILD COPY trigger.txt /trigger.txt
LABEL layer.base=yes
`;

const CHILD = `FROM base:latest AS builder
RUN echo built > /out.txt

FROM base:latest
COPY --chown=app files/a.txt /chown-name/
COPY --chown=app:staff files/a.txt /chown-group/
COPY --chown=77 files/a.txt /chown-num/
COPY --chown=88:99 files/a.txt /chown-pair/
COPY --chmod=0751 files/ /chmod/
COPY --exclude=*.log --exclude=sub/skip.txt files/ /excl/
COPY --parents files/./sub/b.txt /par/
COPY --parents files/sub/b.txt /par2/
COPY files/*.txt /wild/
COPY files/a.txt /renamed.txt
COPY files/sub /subcontents/
COPY files/sub /subcontents-noslash
COPY --link --chown=app files/a.txt /linked/a.txt
COPY --from=builder /out.txt /from-stage.txt
COPY --from=0 /out.txt /from-index.txt
COPY --from=base:latest /etc/group /from-image-group
COPY <<HERE /heredoc.txt
hello from a heredoc
HERE
USER app
WORKDIR /home/app/work/deep
USER root
VOLUME ["/data", "/cache"]
EXPOSE 8080 53/udp
LABEL org.example.name="instr test" second=2
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=5s --retries=2 CMD ["true"]
SHELL ["/bin/sh", "-ec"]
CMD echo done
`;

let root: string;
let context: string;

async function sh(script: string, image = 'child:latest'): Promise<string> {
  return (await riboOk(['run', '--rm', image, '/bin/sh', '-c', script], { root })).stdout.trim();
}

beforeAll(async () => {
  root = await makeStore();
  context = await makeContext({
    'base.Dockerfile': BASE,
    Dockerfile: CHILD,
    'trigger.txt': 'from the trigger\n',
    'files/a.txt': 'a\n',
    'files/c.txt': 'c\n',
    'files/debug.log': 'log\n',
    'files/sub/b.txt': 'b\n',
    'files/sub/skip.txt': 'skip\n',
  }, 'hello');
  await riboOk(['build', '-t', 'base:latest', '-f', `${context}/base.Dockerfile`, context], { root });
  await riboOk(['build', '-t', 'child:latest', context], { root });
});

afterAll(async () => {
  await removeStore(root);
  await execa('rm', ['-rf', context]);
});

it('resolves --chown user and group names from the image, and numbers', async () => {
  const out = await sh('for f in /chown-name/a.txt /chown-group/a.txt /chown-num/a.txt /chown-pair/a.txt /linked/a.txt /renamed.txt; do stat -c "%n %u:%g" $f; done');
  expect(out.split('\n')).toEqual([
    '/chown-name/a.txt 1234:2345',
    '/chown-group/a.txt 1234:50',
    '/chown-num/a.txt 77:77',
    '/chown-pair/a.txt 88:99',
    '/linked/a.txt 1234:2345',
    '/renamed.txt 0:0',
  ]);
});

it('applies --chmod to every file and directory copied', async () => {
  const out = await sh('cd /chmod && stat -c "%n %a" a.txt sub sub/b.txt .');
  expect(out.split('\n')).toEqual(['a.txt 751', 'sub 751', 'sub/b.txt 751', '. 751']);
});

it('leaves out --exclude patterns', async () => {
  expect(await sh('cd /excl && find . | sort')).toBe(['.', './a.txt', './c.txt', './sub', './sub/b.txt'].join('\n'));
});

it('keeps parent directories with --parents, from a /./ pivot when there is one', async () => {
  expect(await sh('cat /par/sub/b.txt /par2/files/sub/b.txt')).toBe('b\nb');
});

it('follows the wildcard, file and directory rules of Docker', async () => {
  expect(await sh('ls /wild')).toBe('a.txt\nc.txt');
  expect(await sh('cat /renamed.txt')).toBe('a');
  expect(await sh('ls /subcontents; ls /subcontents-noslash')).toBe('b.txt\nskip.txt\nb.txt\nskip.txt');
  expect(await sh('cat /heredoc.txt')).toBe('hello from a heredoc');
});

it('copies from a stage by name and by index, and from an image', async () => {
  expect(await sh('cat /from-stage.txt /from-index.txt')).toBe('built\nbuilt');
  expect(await sh('grep staff /from-image-group')).toBe('staff:x:50:app');
});

it('puts a --link copy in a layer of its own holding only the copied files', async () => {
  const image = await readImage(root, 'child:latest');
  const history = image.config.history.filter((h: { empty_layer?: boolean }) => !h.empty_layer);
  const index = history.findIndex((h: { created_by: string }) => h.created_by.startsWith('COPY --link'));
  expect(index).toBeGreaterThan(0);
  const entries = await listLayer(blobPath(root, image.manifest.layers[index]!.digest));
  expect(entries.map((e) => e.path).sort()).toEqual(['linked/', 'linked/a.txt']);
});

it('creates WORKDIR owned by the USER in force', async () => {
  expect(await sh('stat -c "%n %u:%g" /home/app/work /home/app/work/deep; pwd')).toBe('/home/app/work 1234:2345\n/home/app/work/deep 1234:2345\n/home/app/work/deep');
});

it('runs the base image ONBUILD triggers first and does not pass them on', async () => {
  expect(await sh('cat /onbuild.txt /trigger.txt')).toBe('triggered in /\nfrom the trigger');
  const base = await readImage(root, 'base:latest');
  expect(base.config.config.OnBuild).toEqual(['RUN echo "triggered in $(pwd)" > /onbuild.txt', 'COPY trigger.txt /trigger.txt']);
  const child = await readImage(root, 'child:latest');
  expect(child.config.config.OnBuild ?? []).toEqual([]);
});

it('records the config instructions in the config, with empty_layer history and no layers', async () => {
  const image = await readImage(root, 'child:latest');
  const config = image.config.config;
  expect(config.Volumes).toEqual({ '/data': {}, '/cache': {} });
  expect(config.ExposedPorts).toEqual({ '8080/tcp': {}, '53/udp': {} });
  expect(config.Labels).toEqual({ 'layer.base': 'yes', 'org.example.name': 'instr test', second: '2' });
  expect(config.StopSignal).toBe('SIGTERM');
  expect(config.Healthcheck).toEqual({ Test: ['CMD', 'true'], Interval: 30e9, Timeout: 5e9, Retries: 2 });
  expect(config.Shell).toEqual(['/bin/sh', '-ec']);
  expect(config.Cmd).toEqual(['/bin/sh', '-ec', 'echo done']);
  expect(config.User).toBe('root');
  expect(config.WorkingDir).toBe('/home/app/work/deep');
  const history: Array<{ created_by: string; empty_layer?: boolean }> = image.config.history;
  for (const kind of ['USER', 'VOLUME', 'EXPOSE', 'LABEL', 'STOPSIGNAL', 'HEALTHCHECK', 'SHELL', 'CMD']) {
    const entries = history.filter((h) => h.created_by.startsWith(kind));
    expect(entries.length).toBeGreaterThan(0);
    for (const entry of entries) expect(entry.empty_layer).toBe(true);
  }
  expect(history.filter((h) => !h.empty_layer)).toHaveLength(image.manifest.layers.length);
  expect((await riboOk(['run', '--rm', 'child:latest'], { root })).stdout.trim()).toBe('done');
});

it('rejects an unknown --chown name with the line and the fix', async () => {
  const bad = await makeContext({ Dockerfile: 'FROM base:latest\nCOPY --chown=nobody-here trigger.txt /x\n', 'trigger.txt': 't\n' });
  try {
    const result = await ribo(['build', '-t', 'bad:latest', bad], { root });
    expect(result.exitCode).not.toBe(0);
    expect(result.stderr).toMatch(/Dockerfile:2.*user "nobody-here" is not in the image's \/etc\/passwd/s);
  } finally {
    await execa('rm', ['-rf', bad]);
  }
});
