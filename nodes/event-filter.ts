import type { Node, NodeAPI, NodeDef } from 'node-red';
import { compileFilter, type FilterRule, FilterRuleError, type Predicate } from './lib/filter';

interface EventFilterDef extends NodeDef {
  rules?: FilterRule[];
  combine?: string;
  outputs?: number | string;
}

export = function (RED: NodeAPI) {
  /** event filter: pass (or route to a second output) events whose envelope matches the rules. */
  function EventFilter(this: Node, config: EventFilterDef) {
    RED.nodes.createNode(this, config);
    const two = Number(config.outputs) === 2;
    let test: Predicate | undefined;
    let broken: FilterRuleError | undefined;
    try {
      test = compileFilter(config.rules, config.combine === 'any' ? 'any' : 'all');
    } catch (err) {
      const message = RED._('event-filter.errors.badRule', { error: (err as Error).message });
      broken = new FilterRuleError(message, err instanceof FilterRuleError ? err.index : 0);
      this.error(message);
      this.status({ fill: 'red', shape: 'ring', text: RED._('event-filter.status.badRule') });
    }
    if (!test) {
      // fail closed: a broken filter passes nothing, and each message is an error a Catch node sees
      // (code FILTER_INVALID_RULE), never a success a Complete node would count
      const error = broken ?? new FilterRuleError(RED._('event-filter.status.badRule'), 0);
      this.on('input', (_msg, _send, done) => done(error));
      return;
    }
    const pass = test;
    if (two) {
      this.on('input', (msg, send, done) => {
        if (pass(msg)) send([msg, null]);
        else send([null, msg]);
        done();
      });
    } else {
      this.on('input', (msg, send, done) => {
        if (pass(msg)) send(msg);
        done();
      });
    }
  }
  RED.nodes.registerType('event filter', EventFilter);
};
