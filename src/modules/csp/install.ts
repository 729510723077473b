/**
 * @module
 * Installs the csp module in a service, with no change to it:
 *
 * - the report endpoint answers its path before the service sees the request (an interceptor of
 *   the node:http adapter);
 * - `http.ServerResponse.prototype.writeHead` (which `end`/`write` call implicitly too) adds the
 *   policy headers to every text/html response of a request: learn sends the deny-by-default
 *   policy as Report-Only, report the learned one as Report-Only, enforce the learned one as
 *   `Content-Security-Policy`; each with `report-uri` (and, for pages served over HTTPS,
 *   `report-to` and `Reporting-Endpoints`), the report URL carrying a signed tag of the page
 *   route. A response that already has a CSP is left alone unless the config says `csp.override`;
 * - while learning, the HTML of those responses is read (`write`/`end`, decompressed when sent
 *   with gzip, deflate or br, as compression() sends it) and its inline code hashed per page
 *   route, except code carrying the response's nonce; what the HTML loads is learned too, and
 *   what the scripts and stylesheets it includes load (subresources.ts: from the reports that name
 *   a script as their source, and from the `url()`s of the stylesheets the service serves, read
 *   the same way), so a page no browser visited gets what its shared code loads;
 * - each request gets a nonce, `res.locals.cspNonce` (Express), `res.cspNonce` (node:http) and
 *   `reply.cspNonce` (Fastify, whose Reply reads `reply.raw`'s: see the Fastify adapter), added
 *   to the policy when the service read it (while learning too, so nonced code is never reported
 *   nor hashed).
 */
import { hash, randomBytes } from 'node:crypto';
import http from 'node:http';
import zlib from 'node:zlib';
import { addRequestInterceptor } from '../../adapters/node-http/adapter.ts';
import type { RequestState } from '../../attribution/scope.ts';
import { BoundedCache } from '../../core/bounded-cache.ts';
import { type PrivateSlot, privateSlot } from '../../instrument/private-slot.ts';
import type { ModuleHost } from '../../module/module.ts';
import { atLearningEnd } from '../../store/learner.ts';
import { createReportEndpoint, type ReportEndpoint } from './endpoint.ts';
import { violationFacts } from './facts.ts';
import { compilePolicy, learningPolicy, reportingEndpoints, sourcesOf } from './header.ts';
import { createHeaderCache } from './header-cache.ts';
import { cssReferences, inlineHashes, type Reference, referencedUrls } from './inline.ts';
import type { Violation } from './report.ts';
import { DEFAULT_CSP_SETTINGS } from './settings.ts';
import { createSubresourceLinks, resourceName } from './subresources.ts';
import { createTagger, loadKey, type Tagger } from './tag.ts';
import { servedOverHttps } from './transport.ts';

export { DEFAULT_CSP_SETTINGS };

const MAX_HTML = 2 * 1024 * 1024;
/** Distinct pages learned from, remembered per generation (BoundedCache keeps up to twice). */
const PAGES_REMEMBERED = 1000;
const CSP = 'content-security-policy';
const CSP_RO = 'content-security-policy-report-only';

/** The page route of a request scope: `GET /notes/:id` → `/notes/:id`. */
export function pageRoute(scope: string): string {
  return scope.replace(/^(GET|HEAD) /, '');
}

interface Tracked {
  readonly state: RequestState;
  /**
   * The URL the browser asked for, as it arrived (a framework may rewrite `request.url` while a
   * mounted router or static handler works on it: Express strips the mount path). Learning
   * only (empty otherwise: nothing else needs it).
   */
  readonly url: string;
  nonce: string | undefined;
  nonceRead: boolean;
  /**
   * Learning: the body being captured (a page or a stylesheet), or null when it is not. Text
   * chunks stay text (`res.send` ends with one string): encoding them only to decode them again
   * was most of what capturing a light page cost.
   */
  body: Array<Buffer | string> | null;
  /** What the captured body is. */
  kind?: 'html' | 'css';
  size: number;
  /** The response's Content-Encoding when it is one leash can undo (compression() sends gzip). */
  encoding?: Encoding;
}

type WriteHead = (this: http.ServerResponse, ...args: unknown[]) => http.ServerResponse;
type Write = (this: http.ServerResponse, ...args: unknown[]) => boolean;
type End = (this: http.ServerResponse, ...args: unknown[]) => http.ServerResponse;

export interface CspInstall {
  readonly endpoint: ReportEndpoint;
  readonly uninstall: () => void;
}

export function installCsp(host: ModuleHost): CspInstall {
  const settings = host.settings.csp ?? DEFAULT_CSP_SETTINGS;
  // The key is read (or made) on first use, so a service that serves no page never touches it.
  let loaded: Tagger | undefined;
  const tagger: Tagger = {
    sign: (route, now) => taggerOf().sign(route, now),
    verify: (tag, now) => taggerOf().verify(tag, now),
  };
  const taggerOf = (): Tagger => {
    if (loaded !== undefined) return loaded;
    let key: Buffer;
    try {
      key = loadKey(host.policyFile, settings.key);
    } catch (error) {
      // Tags made with a key of this process alone stay valid while it runs.
      host.log.warn({ event: 'csp-key-ephemeral' }, (error as Error).message);
      key = randomBytes(32);
    }
    loaded = createTagger(key, settings.tagTtlSeconds);
    return loaded;
  };
  const learning = host.mode === 'learn';
  // What leash tracks of each response, on the response and its `locals`, in a private slot: not
  // a WeakMap keyed by the response, whose entries V8's young-generation collector keeps alive
  // (see private-slot.ts).
  const tracked = privateSlot<Tracked>();
  const nonceProperty = localsNonce(tracked);
  const compiled = new Map<string, Map<string, Set<string>>>();

  const links = learning
    ? createSubresourceLinks((route, fact) =>
        host.observe([route, ...fact], { scope: route, package: 'browser' }),
      )
    : undefined;

  // While learning: the pages served as HTML, and those a browser reported on. When the process
  // ends, the pages of the first kind that are not of the second are named (their policy is what
  // their HTML and their shared scripts showed, not what a browser saw).
  const served = new Set<string>();
  const reported = new Set<string>();
  const nameUnvisited = () => {
    const pages = [...served].filter((page) => !reported.has(page)).sort();
    if (pages.length === 0) return;
    const shown = pages.slice(0, 20).join(', ') + (pages.length > 20 ? ', …' : '');
    host.log.warn(
      { event: 'csp-pages-unvisited', pages },
      `csp: ${pages.length} page${pages.length === 1 ? '' : 's'} served while learning had no browser report: ${shown}; their policy is what their HTML and the scripts they share with visited pages showed. Visit them in a browser while learning`,
    );
  };
  const forgetEnd = learning ? atLearningEnd(nameUnvisited) : undefined;

  const learnViolations = (route: string, violations: readonly Violation[]) => {
    if (learning) reported.add(route);
    const use = { scope: route, package: 'browser' };
    for (const v of violations) {
      const facts = violationFacts(v, settings);
      if (facts !== undefined) {
        host.observe([route, ...facts], use);
        // A load a script of the page made: every page that includes the script makes it too.
        const from =
          v.sourceFile === undefined ? undefined : resourceName(v.sourceFile, v.documentUrl);
        if (links === undefined || from === undefined) continue;
        const code = facts[0] === 'script-src' || facts[0] === 'style-src';
        links.load(from, facts, code ? resourceName(v.blockedUrl, v.documentUrl) : undefined);
      } else if (!learning && v.blockedUrl === 'inline') {
        // Inline code is never learned as 'unsafe-inline'; outside learning it is a violation.
        const directive = v.directive.startsWith('style') ? 'style-src' : 'script-src';
        host.observe([route, directive, "'unsafe-inline'"], use);
      }
    }
  };

  const endpoint = createReportEndpoint({
    path: settings.reportPath,
    maxBytes: settings.maxReportBytes,
    perMinute: settings.reportsPerMinute,
    tagger,
    onViolations: learnViolations,
    onRefused: (reason, detail) => host.log.info({ event: 'csp-report-refused', reason }, detail),
  });

  const removeInterceptor = addRequestInterceptor((state) => {
    const request = state.request as http.IncomingMessage;
    const response = state.response as http.ServerResponse;
    if (endpoint.handle(request, response)) return true;
    const entry: Tracked = {
      state,
      url: learning ? urlOf(request) : '',
      nonce: undefined,
      nonceRead: false,
      body: null,
      size: 0,
    };
    tracked.set(response, entry);
    // Own and enumerable, so template engines that copy `res.locals` copy the nonce. Assigned,
    // not defined: defining a property on the response would turn it into a slow dictionary
    // object, on every request (`res.cspNonce` is a getter of the prototype instead).
    const locals = Object.create(null) as Record<string, unknown>;
    tracked.set(locals, entry);
    Object.defineProperty(locals, 'cspNonce', nonceProperty);
    (response as { locals?: unknown }).locals = locals;
    return false;
  });

  const sourcesFor = (route: string) => {
    let sources = compiled.get(route);
    if (sources === undefined) {
      sources = sourcesOf(host.tree, route);
      compiled.set(route, sources);
    }
    return sources;
  };
  const headerCache = createHeaderCache({
    ttlSeconds: settings.tagTtlSeconds,
    reportPath: settings.reportPath,
    sign: (route, at) => tagger.sign(route, at),
    endpoints: (url) => reportingEndpoints({ url }),
    compile: (route, url, reportTo, nonce) =>
      learning
        ? learningPolicy({ url, reportTo }, nonce)
        : compilePolicy(sourcesFor(route), {
            reporting: { url, reportTo },
            ...(nonce !== undefined ? { nonce } : {}),
          }),
  });

  const addHeaders = (response: http.ServerResponse, entry: Tracked, args: unknown[]) => {
    const status = typeof args[0] === 'number' ? args[0] : response.statusCode;
    if (status < 200 || status === 204 || status === 304) return;
    const headers = args.find((a, i) => i > 0 && typeof a === 'object' && a !== null) as
      | Record<string, unknown>
      | unknown[]
      | undefined;
    // Most frameworks set their headers before writeHead and pass none: no copy to make then.
    let given: Map<string, unknown> | undefined;
    if (Array.isArray(headers)) {
      given = new Map();
      for (let i = 0; i + 1 < headers.length; i += 2)
        given.set(String(headers[i]).toLowerCase(), headers[i + 1]);
    } else if (headers !== undefined) {
      given = new Map();
      for (const [name, value] of Object.entries(headers)) given.set(name.toLowerCase(), value);
    }
    const header = (name: string) => given?.get(name) ?? response.getHeader(name);
    const type = String(header('content-type') ?? '');
    if (!/^\s*text\/html\b/i.test(type)) {
      // A stylesheet of the service's own: what it loads goes to the pages that include it.
      if (learning && /^\s*text\/css\b/i.test(type)) startCapture(entry, header, 'css');
      return;
    }
    if (header(CSP) !== undefined || header(CSP_RO) !== undefined) {
      if (!settings.override) return;
      response.removeHeader(CSP);
      response.removeHeader(CSP_RO);
      if (headers !== undefined && !Array.isArray(headers)) {
        for (const name of Object.keys(headers))
          if ([CSP, CSP_RO].includes(name.toLowerCase())) delete headers[name];
      }
    }
    const route = pageRoute(entry.state.scope);
    const reportTo =
      settings.reportTo === 'auto'
        ? servedOverHttps(entry.state.request as http.IncomingMessage)
        : settings.reportTo;
    const computed = headerCache.headers(
      route,
      reportTo,
      entry.nonceRead ? entry.nonce : undefined,
    );
    const put = (name: string, value: string) => {
      if (Array.isArray(headers)) headers.push(name, value);
      else if (headers !== undefined) headers[name] = value;
      else response.setHeader(name, value);
    };
    put(host.mode === 'enforce' ? CSP : CSP_RO, computed.policy);
    if (computed.endpoints !== undefined) put('reporting-endpoints', computed.endpoints);
    if (learning) startCapture(entry, header, 'html');
  };

  /** A compressed body (what every browser asks for) is read as sent and decompressed at the end. */
  const startCapture = (
    entry: Tracked,
    header: (name: string) => unknown,
    kind: 'html' | 'css',
  ) => {
    const encoding = String(header('content-encoding') ?? 'identity')
      .trim()
      .toLowerCase();
    if (!isEncoding(encoding)) return;
    entry.body = [];
    entry.kind = kind;
    if (encoding !== 'identity') entry.encoding = encoding;
  };

  const capture = (entry: Tracked | undefined, chunk: unknown, encoding: unknown) => {
    if (entry?.body == null || chunk == null || typeof chunk === 'function') return;
    let piece: Buffer | string;
    if (typeof chunk === 'string') {
      const as = typeof encoding === 'string' ? encoding.toLowerCase() : 'utf8';
      piece =
        entry.encoding === undefined && (as === 'utf8' || as === 'utf-8')
          ? chunk
          : Buffer.from(chunk, as as BufferEncoding);
    } else if (chunk instanceof Uint8Array) {
      piece = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    } else return;
    entry.size += typeof piece === 'string' ? Buffer.byteLength(piece) : piece.length;
    if (entry.size > MAX_HTML) entry.body = null;
    else entry.body.push(piece);
  };

  const learnBody = (entry: Tracked) => {
    const body = entry.body;
    entry.body = null;
    if (body === null || body.length === 0) return;
    let text: string;
    try {
      text = body.every((piece) => typeof piece === 'string')
        ? body.join('')
        : decoded(
            Buffer.concat(
              body.map((piece) => (typeof piece === 'string' ? Buffer.from(piece) : piece)),
            ),
            entry.encoding,
          ).toString('utf8');
    } catch (error) {
      const route = pageRoute(entry.state.scope);
      host.log.warn({ event: 'csp-html-unreadable', route }, (error as Error).message);
      return;
    }
    if (entry.kind === 'css') learnStylesheet(entry, text);
    else learnInline(entry, text);
  };

  /** A resource a page or stylesheet at `base` references, as a browser's report would teach it. */
  const referenceFact = (reference: Reference, base: string) => {
    let blockedUrl: string;
    try {
      blockedUrl = new URL(reference.url, base).href;
    } catch {
      return undefined;
    }
    const fact = violationFacts(
      { documentUrl: base, blockedUrl, directive: reference.directive, disposition: 'report' },
      settings,
    );
    return { blockedUrl, fact };
  };

  const learnStylesheet = (entry: Tracked, text: string) => {
    const sheet = entry.url;
    let name: string;
    try {
      name = new URL(sheet).pathname;
    } catch {
      return;
    }
    for (const reference of cssReferences(text)) {
      const learned = referenceFact(reference, sheet);
      if (learned?.fact === undefined) continue;
      const { blockedUrl, fact } = learned;
      const imported =
        reference.directive === 'style-src' ? resourceName(blockedUrl, sheet) : undefined;
      links?.load(name, fact, imported);
    }
  };

  // Pages already learned from: the same HTML served again for the same route from the same
  // directory teaches nothing new, and parsing it is most of what learning a light page costs.
  const pagesLearned = new BoundedCache<string, true>(PAGES_REMEMBERED);
  const learnInline = (entry: Tracked, text: string) => {
    const route = pageRoute(entry.state.scope);
    served.add(route);
    const page = entry.url;
    const nonce = entry.nonceRead ? entry.nonce : undefined;
    // Relative references resolve against the page's directory: part of what the page teaches.
    const path = page.split(/[?#]/, 1)[0] ?? page;
    // One-shot: a Hash object per page cost as much as hashing the page.
    const seen = hash(
      'sha256',
      `${route}\u0000${path.slice(0, path.lastIndexOf('/') + 1)}\u0000${nonce === undefined ? text : text.replaceAll(nonce, '')}`,
      'base64url',
    );
    if (pagesLearned.get(seen) !== undefined) return;
    pagesLearned.set(seen, true);
    const use = { scope: entry.state.scope, package: 'app' };
    let found: ReturnType<typeof inlineHashes>;
    try {
      found = inlineHashes(text, nonce);
    } catch (error) {
      host.log.warn({ event: 'csp-html-unreadable', route }, (error as Error).message);
      return;
    }
    for (const hash of found.scripts) host.observe([route, 'script-src', hash], use);
    for (const hash of found.styles) host.observe([route, 'style-src', hash], use);
    for (const hash of found.handlers) host.observe([route, 'script-src', hash], use);
    if (found.handlers.length > 0) host.observe([route, 'script-src', "'unsafe-hashes'"], use);
    for (const hash of found.styleAttributes) host.observe([route, 'style-src', hash], use);
    // What the HTML loads by itself, learned as a browser's report would teach it: a page that a
    // test client fetched but no browser visited is then not enforced as loading nothing.
    for (const reference of referencedUrls(text)) {
      const learned = referenceFact(reference, page);
      if (learned === undefined) continue;
      const { blockedUrl, fact } = learned;
      if (fact !== undefined) host.observe([route, ...fact], use);
      // And what that script or stylesheet loads, learned wherever a browser ran it.
      if (reference.directive === 'script-src' || reference.directive === 'style-src') {
        const name = resourceName(blockedUrl, page);
        if (name !== undefined) links?.include(route, name);
      }
    }
    if (found.styleAttributes.length > 0)
      host.observe([route, 'style-src', "'unsafe-hashes'"], use);
  };

  const proto = http.ServerResponse.prototype as unknown as {
    writeHead: WriteHead;
    write: Write;
    end: End;
  };
  const originals = { writeHead: proto.writeHead, write: proto.write, end: proto.end };
  Object.defineProperty(proto, 'cspNonce', {
    get(this: http.ServerResponse) {
      const entry = tracked.get(this);
      return entry === undefined ? undefined : nonceOf(entry);
    },
    configurable: true,
  });
  proto.writeHead = function (this: http.ServerResponse, ...args: unknown[]) {
    const entry = tracked.get(this);
    if (entry !== undefined && !this.headersSent) {
      try {
        addHeaders(this, entry, args);
      } catch (error) {
        host.log.warn({ event: 'csp-header-failed' }, (error as Error).message);
      }
    }
    return originals.writeHead.apply(this, args);
  };
  if (learning) {
    proto.write = function (this: http.ServerResponse, ...args: unknown[]) {
      const result = originals.write.apply(this, args);
      capture(tracked.get(this), args[0], args[1]);
      return result;
    };
    proto.end = function (this: http.ServerResponse, ...args: unknown[]) {
      const entry = tracked.get(this);
      const ended = this.writableEnded;
      const result = originals.end.apply(this, args);
      if (entry !== undefined && !ended) {
        capture(entry, args[0], args[1]);
        learnBody(entry);
      }
      return result;
    };
  }

  return {
    endpoint,
    uninstall() {
      forgetEnd?.();
      removeInterceptor();
      proto.writeHead = originals.writeHead;
      proto.write = originals.write;
      proto.end = originals.end;
      delete (proto as { cspNonce?: unknown }).cspNonce;
    },
  };
}

/**
 * `res.locals.cspNonce`: one getter for every response's locals (a getter made per request kept
 * each request's objects alive through V8's young-generation collections, as a WeakMap keyed by
 * the response did: see private-slot.ts), finding the response's entry on the locals or on what
 * they inherit from (`Object.create(locals)`, as template engines layer their scopes).
 */
function localsNonce(tracked: PrivateSlot<Tracked>): PropertyDescriptor {
  return {
    get(this: unknown) {
      for (
        let at = this;
        typeof at === 'object' && at !== null;
        at = Object.getPrototypeOf(at) as unknown
      ) {
        const entry = tracked.get(at);
        if (entry !== undefined) return nonceOf(entry);
      }
      return undefined;
    },
    enumerable: true,
  };
}

/** The response's nonce, made when something first reads it (a page that uses none needs none). */
function nonceOf(entry: Tracked): string {
  entry.nonceRead = true;
  entry.nonce ??= randomBytes(16).toString('base64');
  return entry.nonce;
}

/** The URL a request was made to, as the browser saw it (scheme and Host). */
function urlOf(request: http.IncomingMessage): string {
  const scheme = servedOverHttps(request) ? 'https' : 'http';
  return `${scheme}://${request.headers?.host ?? 'localhost'}${request.url ?? '/'}`;
}

type Encoding = 'identity' | 'gzip' | 'x-gzip' | 'deflate' | 'br';
const ENCODINGS = new Set<string>(['identity', 'gzip', 'x-gzip', 'deflate', 'br']);
const isEncoding = (value: string): value is Encoding => ENCODINGS.has(value);

/** The page as the browser reads it; a decompression bomb stops at MAX_HTML (and throws). */
function decoded(body: Buffer, encoding: Encoding | undefined): Buffer {
  const limit = { maxOutputLength: MAX_HTML };
  switch (encoding) {
    case undefined:
    case 'identity':
      return body;
    case 'gzip':
    case 'x-gzip':
      // The stream may be cut short when the response was; what arrived is still readable.
      return zlib.gunzipSync(body, { ...limit, finishFlush: zlib.constants.Z_SYNC_FLUSH });
    case 'deflate':
      return zlib.inflateSync(body, { ...limit, finishFlush: zlib.constants.Z_SYNC_FLUSH });
    case 'br':
      return zlib.brotliDecompressSync(body, limit);
  }
}
