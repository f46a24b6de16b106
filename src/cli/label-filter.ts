/** A label= filter value, as docker's: KEY (the label is set) or KEY=VALUE (set to exactly VALUE). */
export function labelMatcher(argument: string): (labels: Record<string, string> | undefined) => boolean {
  const [name, ...rest] = argument.split('=');
  return (labels) => labels !== undefined && Object.hasOwn(labels, name!) && (rest.length === 0 || labels[name!] === rest.join('='));
}
