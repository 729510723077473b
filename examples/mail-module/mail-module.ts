/**
 * @module
 * A third-party leash module, built on the public API only: outbound e-mail. It learns which
 * recipients each part of a service mails, and refuses new ones in enforce mode.
 * docs/modules.md walks through it.
 */
import { type Collapse, defineModule, type Kind, literalKind } from 'leash';

/** The mail API this module guards (in a real module: nodemailer's transport, patched). */
export const mailer = {
  sent: [] as Array<{ to: string; subject: string }>,
  /** The scope the next mail is sent from; a real module would read leash's request context. */
  scope: '@background',
  send(to: string, subject: string): void {
    mailer.sent.push({ to, subject });
  },
};

/**
 * Recipients: `ann@example.org`. Three addresses at one domain collapse to `*@example.org`;
 * domains never collapse (mailing three companies does not mean mailing every company).
 */
export const recipientKind: Kind = {
  name: 'recipient',
  key: (fact) => fact.toLowerCase().replaceAll('*', '\\*'),
  matches: (key, fact) => {
    const address = fact.toLowerCase();
    if (key.startsWith('*@'))
      return address.endsWith(key.slice(1)) && !address.slice(0, -key.length + 1).includes('@');
    return key === address.replaceAll('*', '\\*');
  },
  covers: (outer, inner) =>
    outer === inner || (outer.startsWith('*@') && inner.endsWith(outer.slice(1))),
  isPattern: (key) => key.startsWith('*@'),
  collapse(keys, options): Collapse[] {
    const byDomain = new Map<string, string[]>();
    for (const key of keys) {
      const domain = key.slice(key.lastIndexOf('@'));
      byDomain.set(domain, [...(byDomain.get(domain) ?? []), key]);
    }
    return [...byDomain]
      .filter(([, members]) => members.length >= options.threshold)
      .map(([domain, members]) => ({ pattern: `*${domain}`, members }));
  },
  child: () => null,
  validate: (key) =>
    /^[^@\s]+@[^@\s]+$/.test(key)
      ? undefined
      : 'expected an address like ann@example.org or *@example.org',
  breadth: () => undefined,
};

export const mailModule = defineModule({
  name: 'mail',
  description: 'outbound e-mail recipients per scope',
  positions: ['scope', 'recipient'],
  root: literalKind({ name: 'scope', child: () => recipientKind }),
  install(host) {
    const original = mailer.send;
    mailer.send = (to, subject) => {
      // check() throws ERR_LEASH_DENIED in enforce mode, before the mail leaves.
      host.check([mailer.scope, to], { scope: mailer.scope, package: 'app' });
      original(to, subject);
    };
    return () => {
      mailer.send = original;
    };
  },
});
