/** `ribo build --print` shows the resolved plan without building anything. */
import { execa } from 'execa';
import { makeContext, makeStore, removeStore, riboOk } from './harness.js';

it('prints the stages the target needs, with build args applied', async () => {
  const context = await makeContext({
    Dockerfile: 'ARG BASE=scratch\nFROM ${BASE} AS tools\nRUN true\nFROM scratch AS unused\nFROM scratch\nCOPY --from=tools /x /x\n',
  });
  const root = await makeStore();
  try {
    const { stdout } = await riboOk(['build', '--print', '--build-arg', 'BASE=localhost/base:1', context], { root });
    const plan = JSON.parse(stdout);
    expect(plan.stages[0].base).toEqual({ kind: 'image', ref: 'localhost/base:1' });
    expect(plan.order).toEqual([0, 2]);
    expect(plan.stages[1].needed).toBe(false);
  } finally {
    await removeStore(root);
    await execa('rm', ['-rf', context]);
  }
});
