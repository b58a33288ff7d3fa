/**
 * kvm.vm.qemu-passthrough-args: `<qemu:commandline>` (raw QEMU arguments and environment) or `<qemu:override>`
 * (raw device properties) in libvirt's QEMU namespace, whatever prefix binds it. libvirt taints such domains: what
 * they pass is not validated, labelled or confined by libvirt.
 */
import { redactEnv, redactSecrets } from '../redact.js';
import { defineCheck } from '../types.js';
import { domEvidence, eachDomain, listText } from './vm-common.js';

const PASSTHROUGH = new Set(['commandline', 'override']);

/** The check. */
export const vmQemuPassthroughArgs = defineCheck(
  {
    id: 'kvm.vm.qemu-passthrough-args',
    title: 'VM passes raw arguments to QEMU (qemu:commandline)',
    severity: 'medium',
    platform: 'kvm',
    resourceType: 'vm',
    rationale:
      'Arguments and environment given through <qemu:commandline> (and properties through <qemu:override>) go to ' +
      'QEMU unchecked: libvirt neither validates them nor applies its security labelling and cgroup device controls to ' +
      'what they open, so they can attach host files or devices, or weaken isolation, outside the reviewed domain ' +
      'configuration. libvirt marks such domains as tainted.',
    remediation:
      'Replace the pass-through with the equivalent libvirt XML element, or remove it; where it must stay, review ' +
      'every argument and keep the domain definition writable only by administrators.',
    references: { urls: ['https://libvirt.org/drvqemu.html#pass-through-of-arbitrary-qemu-commands'] },
  },
  (inv) =>
    eachDomain(inv, (dom) => {
      const found = dom.qemuPassthrough.filter(
        (q) =>
          PASSTHROUGH.has(q.element) &&
          (q.element === 'commandline' ? q.args.length + q.env.length > 0 : q.items > 0),
      );
      if (found.length === 0) {
        return { status: 'pass', message: 'no qemu:commandline or qemu:override' };
      }
      // Arguments and environment often carry secrets (`-object secret,data=…`): masked before they are shown.
      const what = found.map((q) =>
        q.element === 'commandline'
          ? `qemu:commandline (line ${q.line}) with ${q.args.length} argument(s)${q.args.length ? ` ${listText(q.args.map(redactSecrets), 6)}` : ''}${q.env.length ? ` and environment ${listText(q.env.map(redactEnv))}` : ''}`
          : `qemu:${q.element} (line ${q.line}) with ${q.items} item(s)`,
      );
      const first = found[0]!;
      return {
        status: 'fail',
        message: listText(what),
        evidence: domEvidence(
          dom,
          first.line,
          `qemu:${first.element}`,
          redactSecrets(first.args.join(' ')) || `${first.items} item(s)`,
        ),
      };
    }),
);
