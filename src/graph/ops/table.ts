// The op table: one rule per node kind. The only switch over node kinds in the graph; adding a kind
// is a new entry here (and its rule file and kernel). See docs/op-table.md.
import type { Node } from '../plan.js';
import { convRule } from './conv-rule.js';
import { linearRule } from './linear-rule.js';
import type { OpRule } from './op-rule.js';
import { statRule } from './stat-rule.js';

type Rules = { readonly [K in Node['kind']]: OpRule<Extract<Node, { kind: K }>> };

export const OP_RULES: Rules = {
  conv: convRule,
  linear: linearRule,
  stat: statRule,
};

/** The rule of `node`'s kind. */
export function ruleOf<N extends Node>(node: N): OpRule<N> {
  return OP_RULES[node.kind] as unknown as OpRule<N>;
}
