/**
 * `--rename FROM=TO` rules for module paths: FROM is a regular expression matched against the
 * path with its segments joined by `/` (whatever the framework's separator), TO its
 * replacement (`$1` for groups); the result is split on `/` again. Rules apply in order.
 *
 *     --rename '^(layer\d)/(\d+)=$1_$2'     layer1/0/bn1 → layer1_0/bn1 (Flax-style names)
 */
import type { LayerKind } from '@normbridge/safetensors';

export class RenameRuleError extends Error {
  constructor(readonly rule: string, why: string) {
    super(`--rename ${JSON.stringify(rule)}: ${why}`);
    this.name = 'RenameRuleError';
  }
}

export function parseRenameRules(rules: readonly string[]): (path: readonly string[], kind: LayerKind) => readonly string[] {
  const parsed = rules.map((rule) => {
    const at = rule.indexOf('=');
    if (at <= 0) throw new RenameRuleError(rule, 'expected FROM=TO (FROM a regular expression over the path joined with "/")');
    try {
      return { from: new RegExp(rule.slice(0, at), 'g'), to: rule.slice(at + 1), rule };
    } catch (e) {
      throw new RenameRuleError(rule, (e as Error).message);
    }
  });
  return (path) => {
    let joined = path.join('/');
    for (const r of parsed) joined = joined.replace(r.from, r.to);
    const out = joined.split('/');
    if (out.some((s) => s === '')) throw new RenameRuleError(parsed.map((r) => r.rule).join(' '), `renames "${path.join('/')}" to "${joined}", which has an empty segment`);
    return out;
  };
}
