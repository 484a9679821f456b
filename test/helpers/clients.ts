import { execFile, execFileSync } from 'node:child_process';

export interface CommandResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a real client program with a time limit; never throws on a non-zero exit. */
export const runCommand = (file: string, args: readonly string[], options: { timeoutMs?: number; env?: NodeJS.ProcessEnv; input?: string; cwd?: string } = {}): Promise<CommandResult> =>
  new Promise((resolve) => {
    const child = execFile(file, args as string[], {
      ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
      timeout: options.timeoutMs ?? 20_000, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8',
      env: options.env ?? { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp' },
    }, (error, stdout, stderr) => {
      const code = error ? (typeof (error as NodeJS.ErrnoException).code === 'number' ? Number((error as NodeJS.ErrnoException).code) : 1) : 0;
      resolve({ code: error && (error as { killed?: boolean }).killed ? 124 : code, stdout, stderr });
    });
    if (options.input !== undefined) child.stdin?.end(options.input);
  });

/** curl through a proxy; stdout is the body, and the status is printed after a marker. */
export const curl = async (args: readonly string[], options: { timeoutMs?: number } = {}): Promise<CommandResult & { status: number; body: string }> => {
  const result = await runCommand('curl', ['-sS', '--max-time', '15', '-w', '\n@@STATUS@@%{http_code}', ...args], options);
  const at = result.stdout.lastIndexOf('\n@@STATUS@@');
  return {
    ...result,
    status: at >= 0 ? Number(result.stdout.slice(at + 11)) : 0,
    body: at >= 0 ? result.stdout.slice(0, at) : result.stdout,
  };
};

/** The first python3 on this machine that can import requests, or undefined. */
export const findPythonWithRequests = (): string | undefined => {
  for (const candidate of ['python3', '/usr/bin/python3']) {
    try {
      execFileSync(candidate, ['-c', 'import requests'], { stdio: 'ignore' });
      return candidate;
    } catch {
      // try the next one
    }
  }
  return undefined;
};
