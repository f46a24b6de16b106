import type { ContainerStore } from '../../src/run/containers.js';

/** What ContainerStore.create takes for a small container of image "hello", named `name` if given. */
export function containerFields(name?: string): Parameters<ContainerStore['create']>[0] {
  return {
    ...(name ? { name } : {}),
    image: 'hello',
    imageDigest: 'sha256:00',
    command: ['true'],
    autoRemove: false,
    detached: false,
    driver: 'overlay',
    runtime: 'crun',
    plan: { lowers: [], spec: { args: ['true'], env: [], cwd: '/', network: 'host', idCount: 1 } },
  };
}
