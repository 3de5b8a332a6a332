/**
 * The `distml` command. Results go to stdout, progress and logs to stderr. Exit codes: 0 success,
 * 1 failure, 2 usage error (bad option, unknown model or parameter).
 */
import { Command, CommanderError } from 'commander';
import pc from 'picocolors';
import { DistmlError } from '../errors.ts';
import { getModel, modelDefinitions } from '../models/registry.ts';
import { VERSION } from '../version.ts';
import { evaluateCommand } from './commands/evaluate.ts';
import { generateCommand } from './commands/generate.ts';
import { inspectCommand } from './commands/inspect.ts';
import { predictCommand } from './commands/predict.ts';
import { trainCommand } from './commands/train.ts';
import { workerCommand } from './commands/worker.ts';

/** Error codes that are the caller's mistake in how distml was called: exit status 2. */
const USAGE_CODES = new Set(['USAGE', 'PARAM_INVALID', 'MODEL_UNKNOWN']);

/** Runs the CLI on `argv` (without `node` and the script) and returns the exit status. */
export async function main(argv: readonly string[]): Promise<number> {
  const modelHelp = modelHelpRequest(argv);
  if (modelHelp !== undefined) {
    try {
      process.stdout.write(describeModel(modelHelp));
      return 0;
    } catch (err) {
      return reportError(err, argv);
    }
  }
  const program = buildProgram();
  try {
    if (argv.length === 0) {
      process.stdout.write(program.helpInformation());
      return 0;
    }
    await program.parseAsync([...argv], { from: 'user' });
    return 0;
  } catch (err) {
    return reportError(err, argv);
  }
}

function buildProgram(): Command {
  const program = new Command('distml')
    .description('Distributed machine learning for tabular data: train, evaluate, save and serve models')
    .version(
      `distml ${VERSION} (node ${process.version}, ${process.platform}-${process.arch})`,
      '-V, --version',
    )
    .exitOverride()
    .showSuggestionAfterError(true)
    .configureOutput({ outputError: (text, write) => write(pc.red(text)) });
  for (const command of [
    trainCommand(),
    predictCommand(),
    evaluateCommand(),
    inspectCommand(),
    generateCommand(),
    workerCommand(),
  ]) {
    program.addCommand(command.exitOverride().showSuggestionAfterError(true));
  }
  return program;
}

function reportError(err: unknown, argv: readonly string[]): number {
  if (err instanceof CommanderError) {
    // Commander has already printed its message (unknown option, missing argument, …).
    if (
      err.code === 'commander.helpDisplayed' ||
      err.code === 'commander.version' ||
      err.code === 'commander.help'
    ) {
      return 0;
    }
    return 2;
  }
  const verbose = argv.includes('--verbose') || process.env.DEBUG !== undefined;
  if (err instanceof DistmlError) {
    process.stderr.write(`${pc.red('error:')} ${err.message}\n`);
    if (verbose && err.stack) process.stderr.write(`${err.stack}\n`);
    return USAGE_CODES.has(err.code) ? 2 : 1;
  }
  const e = err instanceof Error ? err : new Error(String(err));
  process.stderr.write(`${pc.red('error:')} ${e.message}\n`);
  process.stderr.write(verbose ? `${e.stack}\n` : 'run again with --verbose for the stack trace\n');
  return 1;
}

/** The model named in `distml train --model NAME --help`, if that is what was asked. */
function modelHelpRequest(argv: readonly string[]): string | undefined {
  if (argv[0] !== 'train' || !(argv.includes('--help') || argv.includes('-h'))) return undefined;
  const i = argv.indexOf('--model');
  if (i >= 0 && argv[i + 1] !== undefined) return argv[i + 1];
  const eq = argv.find((a) => a.startsWith('--model='));
  return eq?.slice('--model='.length);
}

/** Help for one model: what it does and every parameter with its type and default. */
export function describeModel(name: string): string {
  const m = getModel(name);
  const lines = [
    `${m.name} (${m.task})`,
    `  ${m.summary}`,
    '',
    'Parameters (pass as --param KEY=VALUE):',
    ...m.params.describe().map((l) => `  ${l}`),
    '',
    'Example:',
    `  distml train data.csv --target label --model ${m.name}${m.params.names[0] ? ` --param ${exampleParam(m.name)}` : ''}`,
    '',
  ];
  return lines.join('\n');
}

function exampleParam(name: string): string {
  const m = getModel(name);
  const first = m.params.names[0]!;
  return `${first}=${String(m.params.defaults()[first])}`;
}

/** One line per model, for `distml train --help`. */
export function modelList(): string {
  return modelDefinitions()
    .map((m) => `  ${m.name.padEnd(22)} ${m.task.padEnd(15)} ${m.summary}`)
    .join('\n');
}
