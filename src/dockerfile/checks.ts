/** Heuristics behind some of BuildKit's build checks (warnings, never errors by default). */
import type { RawNode } from './node.js';

const SECRET_WORDS = new Set(['apikey', 'auth', 'credential', 'credentials', 'key', 'password', 'pword', 'passwd', 'secret', 'token']);
const NOT_SECRET_WORDS = new Set(['public']);

/** Split an identifier into lower-case words: API_KEY, apiKey, api-key -> api, key. */
function identifierWords(name: string): string[] {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((w) => w.toLowerCase());
}

/** True for names like DB_PASSWORD or githubToken (but not PUBLIC_KEY). */
export function looksLikeSecret(name: string): boolean {
  const words = identifierWords(name);
  return words.some((w) => SECRET_WORDS.has(w)) && !words.some((w) => NOT_SECRET_WORDS.has(w));
}

/** Problems with one EXPOSE word: an IP / host-port mapping, or an upper-case protocol. */
export function exposeProblems(port: string): Array<{ rule: string; message: string }> {
  const problems: Array<{ rule: string; message: string }> = [];
  if (port.includes('$')) return problems;
  const [spec, proto] = port.split('/', 2) as [string, string | undefined];
  if (spec.includes(':')) {
    problems.push({ rule: 'ExposeInvalidFormat', message: `EXPOSE instruction should not define an IP address or host-port mapping, found '${port}'` });
  }
  if (proto !== undefined && proto !== proto.toLowerCase()) {
    problems.push({ rule: 'ExposeProtoCasing', message: `Defined protocol '${port}' in EXPOSE instruction should be lowercase` });
  }
  return problems;
}

/** Instructions whose keyword casing differs from the file's majority casing. */
export function inconsistentCasing(nodes: readonly RawNode[]): Array<{ node: RawNode; message: string }> {
  let upper = 0;
  let lower = 0;
  for (const n of nodes) {
    if (n.keywordAsWritten === n.keywordAsWritten.toUpperCase()) upper++;
    else if (n.keywordAsWritten === n.keywordAsWritten.toLowerCase()) lower++;
  }
  const majorityUpper = upper >= lower;
  const expected = majorityUpper ? 'uppercase' : 'lowercase';
  return nodes
    .filter((n) => n.keywordAsWritten !== (majorityUpper ? n.keywordAsWritten.toUpperCase() : n.keywordAsWritten.toLowerCase()))
    .map((node) => ({ node, message: `Command '${node.keywordAsWritten}' should match the case of the command majority (${expected})` }));
}
