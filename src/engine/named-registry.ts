/**
 * A registry of worker-side code by name (source handlers, partition decoders): code is named in
 * task messages, never shipped, so every process that runs tasks imports the modules that register
 * it, and a name a process does not know is an error that says which module to import.
 */
import { DistmlError } from '../errors.ts';

/** Registers and finds one kind of named code. */
export interface NamedRegistry<T> {
  /** Registers `value` under `name`. @throws Error for a name registered twice */
  register(name: string, value: T): void;
  /** What `name` names. @throws DistmlError naming the module to import */
  get(name: string): T;
}

/**
 * A registry of `what` (e.g. 'source handlers'), whose values `module` registers.
 */
export function namedRegistry<T>(what: string, module: string): NamedRegistry<T> {
  const byName = new Map<string, T>();
  return {
    register(name, value) {
      if (byName.has(name)) throw new Error(`${what} '${name}' registered twice`);
      byName.set(name, value);
    },
    get(name) {
      const found = byName.get(name);
      if (found === undefined) {
        throw new DistmlError(
          'KERNEL',
          `no ${what} named '${name}' in this process`,
          `${module} registers it; the worker must import it (distml worker does)`,
        );
      }
      return found;
    },
  };
}
