/**
 * Model parameters are declared once. From the declaration come the TypeScript type, validation
 * (with messages that name the model, the parameter and the bad value), `--param KEY=VALUE`
 * parsing, and the help text of `distml train --model NAME --help`.
 */
import { didYouMean, ParamError } from '../errors.ts';

/** A numeric parameter. */
export interface NumberParam {
  readonly kind: 'number';
  readonly default: number;
  readonly doc: string;
  readonly min?: number;
  readonly max?: number;
  /** Whether `min` itself is excluded (C > 0, say). */
  readonly exclusiveMin?: boolean;
  readonly integer?: boolean;
}

/** A true/false parameter. */
export interface BooleanParam {
  readonly kind: 'boolean';
  readonly default: boolean;
  readonly doc: string;
}

/** A parameter that takes one of a fixed set of words. */
export interface ChoiceParam<C extends string = string> {
  readonly kind: 'choice';
  readonly choices: readonly C[];
  readonly default: C;
  readonly doc: string;
}

/** Any parameter declaration. */
export type ParamDecl = NumberParam | BooleanParam | ChoiceParam;

/** A record of parameter declarations. */
export type ParamDecls = Record<string, ParamDecl>;

/** The value type of one declaration. */
export type ValueOf<D extends ParamDecl> = D extends NumberParam
  ? number
  : D extends BooleanParam
    ? boolean
    : D extends ChoiceParam<infer C>
      ? C
      : never;

/** The parameter object type a declaration record describes. */
export type ParamsOf<S extends ParamSpec<ParamDecls>> =
  S extends ParamSpec<infer D> ? { [K in keyof D]: ValueOf<D[K]> } : never;

/** Raw parameter values as they come from a library call or the command line. */
export type RawParams = Record<string, unknown>;

/** A set of declared parameters with validation, parsing and docs. */
export class ParamSpec<D extends ParamDecls> {
  constructor(readonly decls: D) {}

  /** Parameter names in declaration order. */
  get names(): string[] {
    return Object.keys(this.decls);
  }

  /** The defaults for every parameter. */
  defaults(): { [K in keyof D]: ValueOf<D[K]> } {
    const out: Record<string, unknown> = {};
    for (const [name, decl] of Object.entries(this.decls)) out[name] = decl.default;
    return out as { [K in keyof D]: ValueOf<D[K]> };
  }

  /**
   * Checks `given` against the declarations and fills in defaults.
   * @param model - the model name, for messages
   * @throws ParamError naming the model, the parameter, the bad value and what is allowed
   */
  validate(model: string, given: RawParams = {}): { [K in keyof D]: ValueOf<D[K]> } {
    const out: Record<string, unknown> = this.defaults();
    for (const [name, value] of Object.entries(given)) {
      if (value === undefined) continue;
      const decl = this.declOf(model, name);
      out[name] = checkValue(model, name, decl, value);
    }
    return out as { [K in keyof D]: ValueOf<D[K]> };
  }

  /** Parses `KEY=VALUE` strings (from `--param`) into raw values, then validates them. */
  parse(model: string, pairs: readonly string[]): { [K in keyof D]: ValueOf<D[K]> } {
    return this.validate(model, this.parseGiven(model, pairs));
  }

  /**
   * Parses `KEY=VALUE` strings (from `--param`) into raw values, each checked, without filling in
   * defaults: estimators that refuse parameters which do not apply (linear-svc's loss-specific
   * ones) must see only what the user set.
   */
  parseGiven(model: string, pairs: readonly string[]): RawParams {
    const raw: RawParams = {};
    for (const pair of pairs) {
      const eq = pair.indexOf('=');
      if (eq <= 0) {
        throw new ParamError(
          `--param expects KEY=VALUE, got '${pair}'`,
          `for example --param ${this.names[0] ?? 'key'}=1`,
        );
      }
      const name = pair.slice(0, eq).trim();
      const text = pair.slice(eq + 1).trim();
      const decl = this.declOf(model, name);
      raw[name] = checkValue(model, name, decl, parseText(model, name, decl, text));
    }
    return raw;
  }

  /** One help line per parameter: name, type, default, doc. */
  describe(): string[] {
    return Object.entries(this.decls).map(([name, d]) => {
      let type: string;
      if (d.kind === 'number') {
        const lo = d.min === undefined ? '' : `${d.exclusiveMin ? '>' : '≥'}${d.min}`;
        const hi = d.max === undefined ? '' : `≤${d.max}`;
        type = `${d.integer ? 'integer' : 'number'}${lo || hi ? ` ${[lo, hi].filter(Boolean).join(', ')}` : ''}`;
      } else if (d.kind === 'boolean') type = 'true|false';
      else type = d.choices.join('|');
      return `${name}=<${type}>  ${d.doc} (default: ${String(d.default)})`;
    });
  }

  private declOf(model: string, name: string): ParamDecl {
    const decl = Object.hasOwn(this.decls, name) ? this.decls[name] : undefined;
    if (decl === undefined) {
      const hint = didYouMean(name, this.names) ?? `known parameters: ${this.names.join(', ')}`;
      throw new ParamError(`${model} has no parameter '${name}'`, hint);
    }
    return decl;
  }
}

/** Declares a model's parameters. */
export function defineParams<D extends ParamDecls>(decls: D): ParamSpec<D> {
  return new ParamSpec(decls);
}

function parseText(model: string, name: string, decl: ParamDecl, text: string): unknown {
  if (decl.kind === 'number') {
    const v = text === '' ? Number.NaN : Number(text);
    if (Number.isNaN(v)) throw new ParamError(`${model} parameter ${name} must be a number, got '${text}'`);
    return v;
  }
  if (decl.kind === 'boolean') {
    const t = text.toLowerCase();
    if (t === 'true' || t === '1' || t === 'yes') return true;
    if (t === 'false' || t === '0' || t === 'no') return false;
    throw new ParamError(`${model} parameter ${name} must be true or false, got '${text}'`);
  }
  return text;
}

function checkValue(model: string, name: string, decl: ParamDecl, value: unknown): unknown {
  const where = `${model} parameter ${name}`;
  if (decl.kind === 'number') {
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      throw new ParamError(`${where} must be a finite number, got ${String(value)}`);
    }
    if (decl.integer && !Number.isInteger(value))
      throw new ParamError(`${where} must be an integer, got ${value}`);
    if (decl.min !== undefined && (value < decl.min || (decl.exclusiveMin && value === decl.min))) {
      throw new ParamError(`${where} must be ${decl.exclusiveMin ? '>' : '≥'} ${decl.min}, got ${value}`);
    }
    if (decl.max !== undefined && value > decl.max)
      throw new ParamError(`${where} must be ≤ ${decl.max}, got ${value}`);
    return value;
  }
  if (decl.kind === 'boolean') {
    if (typeof value !== 'boolean')
      throw new ParamError(`${where} must be true or false, got ${String(value)}`);
    return value;
  }
  if (typeof value !== 'string' || !decl.choices.includes(value)) {
    const hint = typeof value === 'string' ? didYouMean(value, decl.choices) : undefined;
    throw new ParamError(`${where} must be one of ${decl.choices.join(', ')}, got '${String(value)}'`, hint);
  }
  return value;
}
