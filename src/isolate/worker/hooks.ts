/**
 * @module
 * What an isolated worker changes in the wrappers the agent installs anyway: where the service's
 * server listens (the worker's private port, not the front door the supervisor holds), where its
 * database connections go (the supervisor's proxy, not the database), and the token every SQL
 * statement carries. Unset outside a worker. Code in the worker could change these; it would gain
 * nothing: the kernel sandbox lets the worker reach only the proxy and its own port, and the proxy
 * decides by the token.
 */

export interface Endpoint {
  readonly host: string;
  readonly port: number;
}

export interface IsolationHooks {
  /** The token of the request being served (undefined outside a request). */
  tokenOf(): string | undefined;
  /** Where a TCP connection to host:port goes instead, if anywhere. */
  connectTo(host: string, port: number): Endpoint | undefined;
  /**
   * Where a server asked to listen on host:port listens instead, what to do once it does, and
   * what to do when another process holds that port already (EADDRINUSE).
   */
  listenOn(
    host: string,
    port: number,
  ): { at: Endpoint; listening: () => void; taken: () => void } | undefined;
}

let hooks: IsolationHooks | undefined;

export function isolationHooks(): IsolationHooks | undefined {
  return hooks;
}

export function setIsolationHooks(value: IsolationHooks | undefined): void {
  hooks = value;
}

/** `socket.connect(...)` arguments aimed at another endpoint, in the same call shape. */
export function retargetConnect(args: unknown[], to: Endpoint): unknown[] {
  const first = args[0];
  if (Array.isArray(first))
    return [[{ ...first[0], host: to.host, port: to.port }, ...first.slice(1)], ...args.slice(1)];
  if (typeof first === 'object' && first !== null)
    return [{ ...first, host: to.host, port: to.port }, ...args.slice(1)];
  const rest = typeof args[1] === 'string' ? args.slice(2) : args.slice(1);
  return [to.port, to.host, ...rest];
}

/** `server.listen(...)` arguments aimed at another endpoint, in the same call shape. */
export function retargetListen(args: unknown[], to: Endpoint): unknown[] {
  const first = args[0];
  if (typeof first === 'object' && first !== null)
    return [{ ...first, host: to.host, port: to.port }, ...args.slice(1)];
  const rest = typeof first === 'function' || first === undefined ? args : args.slice(1);
  const afterHost = typeof rest[0] === 'string' ? rest.slice(1) : rest;
  return [to.port, to.host, ...afterHost];
}
