/** Output streams a command writes to, injectable so commands are testable. */
export interface CliIO {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

export const processIO: CliIO = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
};

/** A command: argv after the command name; resolves with the process exit code. */
export type CliCommand = (argv: string[], io: CliIO) => Promise<number>;
