/**
 * @module
 * What leash keeps per object it does not own (a request, a response), kept on the object itself
 * in a slot the service's code cannot see or reach: a class private field, put on the object by a
 * base class whose constructor returns it. It goes away with the object, as a WeakMap entry would.
 *
 * Why not a WeakMap: V8's young-generation collector (the scavenger) treats the values of a
 * WeakMap as strong. An entry whose value reaches its key (a response's state holds the request
 * and the response) kept each request's whole object graph alive through every scavenge, so it
 * was promoted to the old generation and freed only by the next full collection: under load the
 * service's heap grew by a few MB per scavenge (issue 14, the light route's peak RSS). A private
 * field is an ordinary property to the collector.
 */

/** Returns the object it is given: a subclass's constructor then adds its fields to that object. */
class Stamp {
  constructor(target: object) {
    // biome-ignore lint/correctness/noConstructorReturn: the point: fields go on `target`
    return target;
  }
}

export interface PrivateSlot<V> {
  /** The value kept on `target`, or undefined when none is. */
  get(target: object): V | undefined;
  /** Keeps `value` on `target` (replacing the one there). */
  set(target: object, value: V): void;
}

/** A new slot: each one is a field of its own, so two slots never see each other's values. */
export function privateSlot<V>(): PrivateSlot<V> {
  class Slot extends Stamp {
    #value: V;

    constructor(target: object, value: V) {
      super(target);
      this.#value = value;
    }

    static get(target: object): V | undefined {
      return #value in target ? (target as Slot).#value : undefined;
    }

    static set(target: object, value: V): void {
      if (#value in target) (target as Slot).#value = value;
      else new Slot(target, value);
    }
  }
  return { get: Slot.get, set: Slot.set };
}
