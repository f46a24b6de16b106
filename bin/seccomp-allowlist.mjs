#!/usr/bin/env node
// Writes ribo's own seccomp allowlist (bundles/seccomp.json) from podman's
// profile: `node bin/seccomp-allowlist.mjs [PODMAN_PROFILE] [OUT]`.
//
// The facts (which syscalls a container may make, under which capabilities,
// arches and arguments) come from podman's default profile as Debian's
// golang-github-containers-common installs it (/usr/share/containers/seccomp.json,
// Apache-2.0, itself descended from docker's default). What this writes is
// ribo's form of them: the same rules in the same order, names sorted, the
// informational fields (comment, errno names) and empty conditions left out.
// test/runtime/seccomp-allowlist.test.ts checks that both resolve to the same
// filter whenever podman's profile is installed; rerun this when it reports a
// difference after a containers-common update.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const source = process.argv[2] ?? '/usr/share/containers/seccomp.json';
const out = process.argv[3] ?? fileURLToPath(new URL('../bundles/seccomp.json', import.meta.url));
const podman = JSON.parse(readFileSync(source, 'utf8'));

const nonEmpty = (condition) => {
  if (!condition) return undefined;
  const kept = Object.fromEntries(Object.entries(condition).filter(([, v]) => v !== undefined && v !== null && v !== '' && !(Array.isArray(v) && v.length === 0)));
  return Object.keys(kept).length ? kept : undefined;
};

function rule(r) {
  const names = [...(r.names ?? (r.name ? [r.name] : []))].sort();
  const args = (r.args ?? []).map((a) => ({ index: a.index, value: a.value, ...(a.valueTwo ? { valueTwo: a.valueTwo } : {}), op: a.op }));
  return {
    names,
    action: r.action,
    ...(r.errnoRet !== undefined ? { errnoRet: r.errnoRet } : {}),
    ...(args.length ? { args } : {}),
    ...(nonEmpty(r.includes) ? { includes: nonEmpty(r.includes) } : {}),
    ...(nonEmpty(r.excludes) ? { excludes: nonEmpty(r.excludes) } : {}),
  };
}

const profile = {
  defaultAction: podman.defaultAction,
  ...(podman.defaultErrnoRet !== undefined ? { defaultErrnoRet: podman.defaultErrnoRet } : {}),
  archMap: podman.archMap.map((a) => ({ architecture: a.architecture, subArchitectures: a.subArchitectures ?? [] })),
  syscalls: podman.syscalls.map(rule),
};

// One rule per line; long name lists wrapped, so that a diff shows which syscall changed.
function formatRule(r) {
  const { names, ...rest } = r;
  const body = JSON.stringify(rest).slice(1, -1);
  const lines = [];
  for (let i = 0; i < names.length; i += 8) lines.push(names.slice(i, i + 8).map((n) => JSON.stringify(n)).join(', '));
  const list = lines.length > 1 ? `[\n        ${lines.join(',\n        ')}\n      ]` : `[${lines[0] ?? ''}]`;
  return `    {"names": ${list}, ${body}}`;
}

const text = [
  '{',
  `  "defaultAction": ${JSON.stringify(profile.defaultAction)},`,
  ...(profile.defaultErrnoRet !== undefined ? [`  "defaultErrnoRet": ${profile.defaultErrnoRet},`] : []),
  '  "archMap": [',
  profile.archMap.map((a) => `    ${JSON.stringify(a)}`).join(',\n'),
  '  ],',
  '  "syscalls": [',
  profile.syscalls.map(formatRule).join(',\n'),
  '  ]',
  '}',
  '',
].join('\n');
JSON.parse(text);
writeFileSync(out, text);
console.log(`wrote ${out}: ${profile.syscalls.length} rules, ${profile.syscalls.reduce((n, r) => n + r.names.length, 0)} names`);
