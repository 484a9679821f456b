/**
 * A Dockerfile checker for the rules of hadolint (https://github.com/hadolint/hadolint, rule ids
 * and wording from its README) that apply to an image like ours, plus the project's own
 * (PCL...). hadolint itself is neither in Debian nor on npm, and no other registry is reachable
 * here, so the suite checks its rules with this.
 */
export interface Instruction {
  readonly line: number;
  readonly keyword: string;
  readonly args: string;
}

export interface Finding {
  readonly rule: string;
  readonly line: number;
  readonly message: string;
}

/** Splits a Dockerfile into instructions: comments dropped, `\` continuations joined. */
export const parseDockerfile = (text: string): Instruction[] => {
  const result: Instruction[] = [];
  let pending: { line: number; text: string } | undefined;
  text.split('\n').forEach((raw, index) => {
    const trimmed = raw.trim();
    if (trimmed.startsWith('#') || (trimmed === '' && pending === undefined)) return;
    const continued = trimmed.endsWith('\\');
    const piece = continued ? trimmed.slice(0, -1) : trimmed;
    pending = pending === undefined ? { line: index + 1, text: piece } : { line: pending.line, text: `${pending.text} ${piece}` };
    if (!continued) {
      const match = /^(\S+)\s*(.*)$/.exec(pending.text.trim());
      if (match) result.push({ line: pending.line, keyword: match[1]!.toUpperCase(), args: match[2]!.trim() });
      pending = undefined;
    }
  });
  return result;
};

const isJsonArray = (args: string): boolean => {
  try {
    const value: unknown = JSON.parse(args);
    return Array.isArray(value) && value.every((item) => typeof item === 'string');
  } catch {
    return false;
  }
};

/** The shell commands of a RUN (shell form), split on && ; || and |. */
const commands = (args: string): string[] => args.split(/&&|\|\||;|\|/).map((c) => c.trim()).filter(Boolean);

export const lintDockerfile = (text: string): Finding[] => {
  const all = parseDockerfile(text);
  const findings: Finding[] = [];
  const report = (rule: string, at: Instruction, message: string): void => { findings.push({ rule, line: at.line, message }); };
  const stages: { from: Instruction; alias?: string; body: Instruction[] }[] = [];
  for (const instruction of all) {
    if (instruction.keyword === 'FROM') stages.push({ from: instruction, ...(/\bAS\s+(\S+)/i.exec(instruction.args)?.[1] ? { alias: /\bAS\s+(\S+)/i.exec(instruction.args)![1]!.toLowerCase() } : {}), body: [] });
    else stages.at(-1)?.body.push(instruction);
  }
  const aliases = new Set<string>();
  let pipefail = false;
  stages.forEach((stage, index) => {
    const image = stage.from.args.split(/\s+/).find((word) => !word.startsWith('--')) ?? '';
    if (stage.from.args.includes('--platform')) report('DL3029', stage.from, 'Do not use --platform flag with FROM');
    const earlier = stages.slice(0, index).some((s) => s.alias === image.toLowerCase());
    if (!earlier && image !== 'scratch') {
      const tag = image.includes('@') ? 'digest' : image.split('/').at(-1)!.split(':')[1];
      if (tag === undefined) report('DL3006', stage.from, 'Always tag the version of an image explicitly');
      if (tag === 'latest') report('DL3007', stage.from, 'Using latest is prone to errors if the image will ever update. Pin the version explicitly to a release tag');
    }
    if (stage.alias !== undefined) {
      if (aliases.has(stage.alias)) report('DL3024', stage.from, 'FROM aliases (stage names) must be unique');
      aliases.add(stage.alias);
    }
    let workdir = false;
    let cmds = 0;
    let entrypoints = 0;
    let previous: Instruction | undefined;
    for (const at of stage.body) {
      const { keyword, args } = at;
      if (keyword === 'SHELL' && /pipefail/.test(args)) pipefail = true;
      if (keyword === 'WORKDIR') {
        workdir = true;
        if (!args.startsWith('/') && !args.startsWith('$')) report('DL3000', at, 'Use absolute WORKDIR');
      }
      if (keyword === 'MAINTAINER') report('DL4000', at, 'MAINTAINER is deprecated');
      if (keyword === 'ADD' && !/https?:\/\/|\.tar(\.\w+)?\b|\.tgz\b/.test(args)) report('DL3020', at, 'Use COPY instead of ADD for files and folders');
      if (keyword === 'COPY') {
        const from = /--from=(\S+)/.exec(args)?.[1]?.toLowerCase();
        if (from !== undefined && !/^\d+$/.test(from) && !stages.slice(0, index).some((s) => s.alias === from)) {
          report('DL3022', at, 'COPY --from should reference a previously defined FROM alias');
        }
        const destination = args.split(/\s+/).at(-1) ?? '';
        if (!workdir && !destination.startsWith('/') && !destination.startsWith('$')) report('DL3045', at, 'COPY to a relative destination without WORKDIR set');
      }
      if (keyword === 'CMD' || keyword === 'ENTRYPOINT') {
        if (!isJsonArray(args)) report('DL3025', at, 'Use arguments JSON notation for CMD and ENTRYPOINT arguments');
        if (keyword === 'CMD' && (cmds += 1) > 1) report('DL4003', at, 'Multiple CMD instructions found');
        if (keyword === 'ENTRYPOINT' && (entrypoints += 1) > 1) report('DL4004', at, 'Multiple ENTRYPOINT instructions found');
      }
      if (keyword === 'EXPOSE') {
        for (const port of args.split(/\s+/)) {
          const number = Number(port.split('/')[0]);
          if (!port.startsWith('$') && !(Number.isInteger(number) && number >= 0 && number <= 65535)) report('DL3011', at, 'Valid UNIX ports range from 0 to 65535');
        }
      }
      if (keyword === 'RUN' && previous?.keyword === 'RUN') report('DL3059', at, 'Multiple consecutive RUN instructions. Consider consolidation');
      if (keyword === 'RUN' && !isJsonArray(args)) {
        if (/\|(?!\|)/.test(args.replace(/\|\|/g, '')) && !pipefail) report('DL4006', at, 'Set the SHELL option -o pipefail before RUN with a pipe in it');
        const parts = commands(args);
        if (parts.some((c) => /^cd\s/.test(c))) report('DL3003', at, 'Use WORKDIR to switch to a directory');
        if (parts.some((c) => /^sudo\b/.test(c))) report('DL3004', at, 'Do not use sudo as it leads to unpredictable behavior');
        for (const c of parts.filter((part) => /^apt-get\s+(\S+\s+)*install\b/.test(part))) {
          if (!/\s(-y|--yes|-qq|--assume-yes)\b/.test(c)) report('DL3014', at, 'Use the -y switch to avoid manual input `apt-get -y install <package>`');
          if (!/--no-install-recommends/.test(c)) report('DL3015', at, 'Avoid additional packages by specifying `--no-install-recommends`');
          const packages = c.split(/\s+/).slice(c.split(/\s+/).indexOf('install') + 1).filter((w) => !w.startsWith('-'));
          if (packages.some((name) => !name.includes('='))) report('DL3008', at, 'Pin versions in apt get install. Instead of `apt-get install <package>` use `apt-get install <package>=<version>`');
          if (!/rm -rf \/var\/lib\/apt\/lists/.test(args)) report('DL3009', at, 'Delete the apt-get lists after installing something');
        }
        for (const c of parts.filter((part) => /^npm\s+(i|install|add)\b/.test(part))) {
          const packages = c.split(/\s+/).slice(2).filter((w) => !w.startsWith('-') && !/^(\.|\/|\$)/.test(w) && !/\.tgz$/.test(w));
          if (packages.some((name) => !/.@[^/]+$/.test(name))) report('DL3016', at, 'Pin versions in npm. Instead of `npm install <package>` use `npm install <package>@<version>`');
        }
      }
      previous = at;
    }
    const users = stage.body.filter((i) => i.keyword === 'USER');
    if (index === stages.length - 1) {
      const last = users.at(-1);
      if (last === undefined || /^(root|0)(:|$)/.test(last.args)) report('DL3002', last ?? stage.from, 'Last USER should not be root');
      if (!stage.body.some((i) => i.keyword === 'HEALTHCHECK')) report('DL3057', stage.from, 'HEALTHCHECK instruction missing');
    }
  });
  return findings;
};
