/**
 * RUN with heredocs after a command: as BuildKit does, the shell gets the
 * command line followed by the heredoc bodies and reads them itself, so the
 * body reaches the command's stdin (or whatever redirection names it).
 */
import { execa } from 'execa';
import { makeContext, makeStore, removeStore, riboOk } from './harness.js';

const DOCKERFILE = `FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
ENV WHO=world
RUN <<EOT cat > /catted
hello $WHO
EOT
RUN <<EOT sh -e
echo "through sh" > /through-sh
EOT
RUN <<'ONE' cat > /first && <<-TWO cat > /second
literal $WHO
ONE
	tab stripped
	TWO
`;

let root: string;
let context: string;

beforeAll(async () => {
  root = await makeStore();
  context = await makeContext({ Dockerfile: DOCKERFILE }, 'hello');
  await riboOk(['build', '-t', 'heredoc-run:1', context], { root });
});

afterAll(async () => {
  await removeStore(root);
  await execa('rm', ['-rf', context]);
});

it('feeds a RUN heredoc to the command that reads it', async () => {
  const out = await riboOk(['run', '--rm', 'heredoc-run:1', 'sh', '-c', 'cat /catted /through-sh /first /second'], { root });
  expect(out.stdout).toBe('hello world\nthrough sh\nliteral $WHO\ntab stripped');
});
